#!/usr/bin/env node
/*
 * fake_graph.mjs: a fake Instagram Graph API for direkt's integration tests and benchmarks.
 * Node built-ins only (no npm packages). Answers with the shapes and error bodies of
 * shared/fixtures/instagram, read from --fixtures at start; errors not in a fixture (bad
 * parameters, a second private reply, unknown paths) are built in the same shape
 * {"error":{"message","type":"OAuthException","code","error_subcode"?,"fbtrace_id"}}.
 *
 *   node tests/fake/fake_graph.mjs --port 0 --fixtures DIR [--host 127.0.0.1] [--port-file F]
 *        [--token T ...] [--account IG_ID] [--webhook URL --app-secret S [--echo-delay-ms N]]
 *        [--max-recorded N] [--verbose]
 *
 * Prints "listening PORT" on stdout once it accepts connections (and writes PORT to --port-file,
 * atomically). SIGTERM/SIGINT close every connection and exit 0.
 *
 * Graph routes (any version prefix: /v25.0/…, /v26.0/…, or none; both flavours: /me, an
 * Instagram account id (graph.instagram.com) or a Page id (graph.facebook.com)):
 *   POST /<id>/messages       a send ("message") → {"recipient_id","message_id"} (send_response.json);
 *                             sender_action typing_on|typing_off|mark_seen|react|unreact →
 *                             {"recipient_id"}. Checked as Meta does (code 100): a recipient,
 *                             text ≤ 1000 UTF-8 bytes, ≤ 13 quick replies, tag HUMAN_AGENT only;
 *                             one private reply (recipient.comment_id) per comment.
 *   GET  /<igsid>?fields=…    profile.json with "id" = the IGSID, only the requested fields
 *   GET  /<id>/conversations?platform=instagram[&user_id=][&limit=][&after=]  cursor pages
 *   GET  /<conversation id>?fields=messages{…}  the 20 most recent messages, newest first
 *   POST /<comment id>/replies  ("message" in the JSON body or the query) → {"id"}
 * Auth: "Authorization: Bearer T" (or ?access_token=T). Valid tokens: --token / POST /_tokens;
 * with none configured any non-empty token is valid. Otherwise HTTP 400 with
 * error_token_expired.json verbatim.
 * The account of /me is --account / POST /_account (default: the entry id of
 * message_echo.json); POST /_account {"page_id"} maps a Page id to the account as well.
 *
 * Echoes: with --webhook and --app-secret, every accepted send is followed (after
 * --echo-delay-ms, counted from when the send was accepted, so a delayed answer lets the echo
 * arrive first, as it can with Meta) by a signed webhook in the shape of message_echo.json,
 * header X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>. One attempt, no retry.
 *
 * Control routes (JSON in and out; errors are {"error":"…"} with 400):
 *   GET /_health → {"ok":true}; POST /_reset: back to the state at start (scripts, tokens,
 *     account, echo settings, limits, conversations, comments, private replies, profiles,
 *     requests, echoes; pending echoes are dropped). Message-id counters keep counting.
 *   GET /_requests[?kind=send] every Graph request {seq, kind, method, path, query, auth, body,
 *     at_ms, status, message_id, delivered, hung} (the last --max-recorded), DELETE /_requests
 *   GET /_echoes (echoes posted: {mid, account, recipient, at_ms, status, error}), DELETE /_echoes
 *   POST /_tokens {"valid":["a","b"]}       POST /_account {"id","page_id"?}
 *   POST /_echo {"enabled":bool,"delay_ms":N,"webhook":URL}   POST /_limits {"conversations_per_s":N} (0: off)
 *   POST /_conversations {"account","page_size","conversations":[{"id","updated_time",
 *     "messages":[{"id","created_time","from","to","message"}]}]}  (replaces that account's data)
 *   POST /_comments {"<comment id>":"<commenter igsid>"} (comments in the fixtures are known)
 *   POST /_profiles {"<igsid>":{fields over profile.json}}
 *   POST /_script {"steps":[…]}, GET /_script (pending), DELETE /_script (see STEP_KEYS)
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/* ---------------------------------------------------------------- options */

function die(msg) {
    process.stderr.write(`fake_graph: ${msg}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const o = {
        port: 0, host: '127.0.0.1', fixtures: null, portFile: null, tokens: [], account: null,
        webhook: null, appSecret: null, echoDelayMs: 0, maxRecorded: 100000, verbose: false,
    };
    const num = (name, v) => {
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 0) die(`${name} needs a non-negative integer`);
        return n;
    };
    const val = (name, v) => {
        if (v === undefined || v === '') die(`${name} needs a value`);
        return v;
    };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        switch (a) {
        case '--port': o.port = num(a, v); i++; break;
        case '--host': o.host = val(a, v); i++; break;
        case '--fixtures': o.fixtures = val(a, v); i++; break;
        case '--port-file': o.portFile = val(a, v); i++; break;
        case '--token': o.tokens.push(val(a, v)); i++; break;
        case '--account': o.account = val(a, v); i++; break;
        case '--webhook': o.webhook = val(a, v); i++; break;
        case '--app-secret': o.appSecret = val(a, v); i++; break;
        case '--echo-delay-ms': o.echoDelayMs = num(a, v); i++; break;
        case '--max-recorded': o.maxRecorded = Math.max(1, num(a, v)); i++; break;
        case '--verbose': o.verbose = true; break;
        case '-h': case '--help':
            process.stdout.write('usage: fake_graph.mjs --port N --fixtures DIR [--port-file F] [--host H] ' +
                '[--token T ...] [--account IG_ID] [--webhook URL --app-secret S [--echo-delay-ms N]] ' +
                '[--max-recorded N] [--verbose]\n');
            process.exit(0);
            break;
        default: die(`unknown argument ${a}`);
        }
    }
    if (!o.fixtures) die('--fixtures DIR is required');
    if (!fs.existsSync(o.fixtures) || !fs.statSync(o.fixtures).isDirectory()) die(`--fixtures ${o.fixtures}: not a directory`);
    if ((o.webhook === null) !== (o.appSecret === null)) die('--webhook and --app-secret go together');
    if (o.webhook !== null && !/^https?:\/\//.test(o.webhook)) die('--webhook must be an http(s) URL');
    return o;
}

const opt = parseArgs(process.argv);
const vlog = (...a) => { if (opt.verbose) process.stderr.write(`fake_graph: ${a.join(' ')}\n`); };

/* ---------------------------------------------------------------- fixtures */

/* Every *.json of the folder, as bytes (answered verbatim) */
const FIX = new Map();
for (const f of fs.readdirSync(opt.fixtures)) {
    if (f.endsWith('.json')) FIX.set(f, fs.readFileSync(path.join(opt.fixtures, f)));
}
function fixtureJson(name) {
    if (!FIX.has(name)) die(`no fixture ${name} in ${opt.fixtures}`);
    try {
        return JSON.parse(FIX.get(name).toString('utf8'));
    } catch (e) {
        return die(`fixture ${name}: ${e.message}`);
    }
}
const TOKEN_ERROR = 'error_token_expired.json';
const RATE_ERROR = 'error_rate_limit_613.json';
for (const f of [TOKEN_ERROR, RATE_ERROR]) {
    if (!fixtureJson(f).error) die(`fixture ${f} has no "error" object`);
}
const SEND_KEYS = Object.keys(fixtureJson('send_response.json')).sort().join(',');
if (SEND_KEYS !== 'message_id,recipient_id') die(`send_response.json has keys ${SEND_KEYS}, expected message_id,recipient_id`);
const PROFILE = fixtureJson('profile.json');
const ECHO_TEMPLATE = fixtureJson('message_echo.json');
const ECHO_MSG = ECHO_TEMPLATE.entry && ECHO_TEMPLATE.entry[0] && ECHO_TEMPLATE.entry[0].messaging && ECHO_TEMPLATE.entry[0].messaging[0];
if (!ECHO_MSG || !ECHO_MSG.message || ECHO_MSG.message.is_echo !== true) die('message_echo.json is not an echo webhook');
const ERROR_TYPE = fixtureJson(TOKEN_ERROR).error.type;
const DEFAULT_ACCOUNT = opt.account || String(ECHO_TEMPLATE.entry[0].id);

/* Comments known from the fixtures (entry[].changes[].value {id, from.id}): their commenter is
 * the recipient_id of a private reply */
const FIXTURE_COMMENTERS = new Map();
for (const [name] of FIX) {
    let j;
    try { j = JSON.parse(FIX.get(name).toString('utf8')); } catch { continue; }
    for (const e of (j && Array.isArray(j.entry) ? j.entry : [])) {
        for (const c of (e && Array.isArray(e.changes) ? e.changes : [])) {
            const v = c && c.value;
            if (v && typeof v.id === 'string' && v.from && typeof v.from.id === 'string') FIXTURE_COMMENTERS.set(v.id, v.from.id);
        }
    }
}

/* ---------------------------------------------------------------- state */

const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
const isStr = (x) => typeof x === 'string' && x !== '';
const rand = (n) => crypto.randomBytes(n).toString('hex');

let seq = 0;         /* request numbers and message ids keep counting across /_reset, so ids */
let sendCounter = 0; /* stay unique for a direkt database that outlives a test case */
let replyCounter = 0;
const hung = new Set();
const echoTimers = new Set();
const echoAgent = opt.webhook === null ? undefined
    : new (opt.webhook.startsWith('https:') ? https : http).Agent({ keepAlive: true, maxSockets: 64 });

function freshState() {
    return {
        steps: [],
        valid: new Set(opt.tokens),
        account: DEFAULT_ACCOUNT,
        pages: new Map(),                  /* page id → account id */
        echo: { enabled: true, delayMs: opt.echoDelayMs },
        convPerS: 0,
        convCalls: new Map(),              /* account → call times (ms) in the last second */
        conversations: new Map(),          /* account → {pageSize, list} */
        commenters: new Map(FIXTURE_COMMENTERS),
        privateReplied: new Set(),         /* comment ids that got their one private reply */
        commentReplies: [],                /* public replies {id, comment_id, message} */
        profiles: new Map(),
        requests: [],
        echoes: [],
    };
}
let st = freshState();

function remember(list, item, max) {
    list.push(item);
    /* trimmed in batches so that pushing stays O(1) amortised; readers slice(-max) */
    if (list.length >= max + Math.max(1, max >> 4)) list.splice(0, list.length - max);
}

/* ---------------------------------------------------------------- script steps */

/*
 * A step (all keys optional) is taken by the first later request it matches:
 *   match     "send" (default) | "action" (sender actions, reactions) | "profile" |
 *             "conversations" (list and messages) | "comment_reply" | "any"
 *   fixture   answer with this fixture file verbatim. Status when "status" is omitted: 500 for
 *             error_server_transient.json, 400 for the rest. The reference does not state
 *             Meta's HTTP statuses; Graph errors commonly come with 400 and an unexpected
 *             server error (code 2) with 500, which is what this mimics.
 *   status    HTTP status (with fixture)
 *   ok        true: answer success whatever the checks say (validation, private-reply limit,
 *             rate limit)
 *   delay_ms  wait before answering. A send is accepted (and its echo scheduled) at once.
 *   hang      accept the request and never answer; the socket stays open until the client
 *             goes away. A send counts as delivered (delivered: true, message_id recorded,
 *             the comment's private reply used); its echo is posted only with "echo": true.
 *   echo      sends: false suppresses the echo of a success; true also echoes a hang, or an
 *             error fixture (a send that went out although Meta answered an error)
 *   echo_delay_ms  this send's echo delay (default: /_echo delay_ms, --echo-delay-ms)
 *   count     the step is queued N times
 */
const STEP_KEYS = new Set(['match', 'fixture', 'status', 'ok', 'delay_ms', 'hang', 'echo', 'echo_delay_ms', 'count']);
const MATCHES = new Set(['send', 'action', 'profile', 'conversations', 'comment_reply', 'any']);

function validateStep(s) {
    if (!isObj(s)) throw new Error('a step must be an object');
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k)) throw new Error(`unknown step key ${k}`);
    if ('match' in s && !MATCHES.has(s.match)) throw new Error(`match must be one of ${[...MATCHES].join(', ')}`);
    for (const k of ['status', 'delay_ms', 'echo_delay_ms', 'count']) {
        if (k in s && (!Number.isInteger(s[k]) || s[k] < 0)) throw new Error(`${k} must be a non-negative integer`);
    }
    for (const k of ['ok', 'hang', 'echo']) if (k in s && typeof s[k] !== 'boolean') throw new Error(`${k} must be true or false`);
    if ('status' in s && (s.status < 100 || s.status > 599)) throw new Error('status must be 100..599');
    if ('count' in s && (s.count < 1 || s.count > 100000)) throw new Error('count must be 1..100000');
    if ('status' in s && !('fixture' in s)) throw new Error('status goes with fixture');
    if ('fixture' in s) {
        const f = s.fixture;
        if (typeof f !== 'string' || f !== path.basename(f) || f.startsWith('.') || !FIX.has(f)) {
            throw new Error(`no fixture ${JSON.stringify(f)} in ${opt.fixtures}`);
        }
        if (s.ok || s.hang) throw new Error('fixture cannot go with ok or hang');
    }
    if (s.ok && s.hang) throw new Error('ok cannot go with hang');
}

function takeStep(kind) {
    const want = kind === 'conversation' ? 'conversations' : kind;
    const i = st.steps.findIndex((s) => (s.match ?? 'send') === 'any' || (s.match ?? 'send') === want);
    return i >= 0 ? st.steps.splice(i, 1)[0] : null;
}

/* ---------------------------------------------------------------- answers */

const fbtrace = () => `A${crypto.randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 21)}`;

/* An error in the shape of the error fixtures */
function graphError(code, subcode, message) {
    const error = { message, type: ERROR_TYPE, code };
    if (subcode !== null) error.error_subcode = subcode;
    error.fbtrace_id = fbtrace();
    return { status: 400, body: Buffer.from(JSON.stringify({ error })) };
}
const invalid = (message) => graphError(100, null, `(#100) ${message}`);
const json = (obj, status = 200) => ({ status, body: Buffer.from(JSON.stringify(obj)) });
const fixtureAnswer = (name, status) => ({
    status: status ?? (name === 'error_server_transient.json' ? 500 : 400), body: FIX.get(name),
});

function unsupported(method, node) {
    return graphError(100, 33, `(#100) Unsupported ${method.toLowerCase()} request. Object with ID '${node}' does not exist, ` +
        'cannot be loaded due to missing permissions, or does not support this operation');
}

/* "a,b{c,d},e" → Map name → inner text or null (braces may nest) */
function parseFields(s) {
    const out = new Map();
    let depth = 0;
    let start = 0;
    const add = (part) => {
        const m = /^\s*([^{\s]+)\s*(?:\{(.*)\})?\s*$/s.exec(part);
        if (m) out.set(m[1], m[2] ?? null);
    };
    for (let i = 0; i < s.length; i++) {
        if (s[i] === '{') depth++;
        else if (s[i] === '}') depth--;
        else if (s[i] === ',' && depth === 0) { add(s.slice(start, i)); start = i + 1; }
    }
    add(s.slice(start));
    return out;
}

/* A stable, numeric-looking IGSID for a commenter nobody told us about */
const fakeCommenter = (commentId) => `9${BigInt(`0x${crypto.createHash('sha256').update(String(commentId)).digest('hex').slice(0, 13)}`)}`;

/* ---------------------------------------------------------------- echoes */

function postEcho(account, customer, mid, message) {
    const now = Date.now();
    const payload = structuredClone(ECHO_TEMPLATE);
    const entry = payload.entry[0];
    const ev = entry.messaging[0];
    payload.entry = [entry];
    entry.messaging = [ev];
    entry.id = account;
    entry.time = now;
    ev.sender = { id: account };
    ev.recipient = { id: customer };
    ev.timestamp = now;
    ev.message = { mid };
    if (typeof message.text === 'string') ev.message.text = message.text;
    if (isObj(message.attachment)) {
        const a = message.attachment;
        ev.message.attachments = [{ type: a.type, payload: isObj(a.payload) ? { url: a.payload.url } : {} }];
    }
    ev.message.is_echo = true;
    const body = Buffer.from(JSON.stringify(payload));
    const sig = crypto.createHmac('sha256', opt.appSecret).update(body).digest('hex');
    const rec = { mid, account, recipient: customer, at_ms: now, status: null, error: null };
    remember(st.echoes, rec, opt.maxRecorded);
    const req = (opt.webhook.startsWith('https:') ? https : http).request(opt.webhook, {
        method: 'POST', timeout: 10000, agent: echoAgent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-hub-signature-256': `sha256=${sig}` },
    }, (res) => {
        rec.status = res.statusCode;
        res.resume();
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
        rec.error = e.message;
        vlog('echo', mid, 'failed:', e.message);
    });
    req.end(body);
    vlog('echo', mid, '→', opt.webhook);
}

function scheduleEcho(account, customer, mid, message, delayMs) {
    if (opt.webhook === null || !st.echo.enabled) return;
    const t = setTimeout(() => {
        echoTimers.delete(t);
        postEcho(account, customer, mid, message);
    }, delayMs);
    echoTimers.add(t);
}

/* ---------------------------------------------------------------- Graph handlers */

const ACTIONS = new Set(['typing_on', 'typing_off', 'mark_seen', 'react', 'unreact']);

function recipientOf(r) {
    if (!isObj(r)) return null;
    if (isStr(r.id)) return r.id;
    if (isStr(r.comment_id)) return st.commenters.get(r.comment_id) ?? fakeCommenter(r.comment_id);
    return null;
}

/* Accepts a send: a new message id, recorded; the comment's private reply used; the echo */
function deliver(ctx, body, step, echoWanted) {
    const mid = `m_fake_${++sendCounter}_${rand(6)}`;
    const customer = recipientOf(body.recipient) ?? fakeCommenter('?');
    ctx.rec.message_id = mid;
    ctx.rec.delivered = true;
    if (isObj(body.recipient) && isStr(body.recipient.comment_id)) st.privateReplied.add(body.recipient.comment_id);
    if (echoWanted) {
        scheduleEcho(ctx.account, customer, mid, isObj(body.message) ? body.message : {},
            step && step.echo_delay_ms !== undefined ? step.echo_delay_ms : st.echo.delayMs);
    }
    return json({ recipient_id: customer, message_id: mid });
}

/* The reason a send or action breaks Meta's rules, or null */
function checkMessages(body) {
    if (!isObj(body)) return invalid('The request body must be a JSON object');
    const r = body.recipient;
    if (!isObj(r) || (!isStr(r.id) && !isStr(r.comment_id))) return invalid('The parameter recipient is required');
    if (isStr(r.id) && isStr(r.comment_id)) return invalid('Param recipient must have only one of id, comment_id');
    if (body.sender_action !== undefined) {
        if (body.message !== undefined) return invalid('Param sender_action must be sent in a separate request, without message');
        if (!ACTIONS.has(body.sender_action)) return invalid('Param sender_action must be one of {typing_on, typing_off, mark_seen, react, unreact}');
        if (!isStr(r.id)) return invalid('Param recipient[id] is required with sender_action');
        if ((body.sender_action === 'react' || body.sender_action === 'unreact')
            && !(isObj(body.payload) && isStr(body.payload.message_id))) {
            return invalid('Param payload[message_id] is required for react and unreact');
        }
        return null;
    }
    const m = body.message;
    if (!isObj(m)) return invalid('The parameter message is required');
    if (m.text !== undefined && typeof m.text !== 'string') return invalid('Param message[text] must be a string');
    const hasText = isStr(m.text);
    if (!hasText && !isObj(m.attachment)) return invalid('Param message must contain text or an attachment');
    if (hasText && Buffer.byteLength(m.text, 'utf8') > 1000) {
        return invalid('Length of param message[text] must be less than or equal to 1000 bytes of UTF-8');
    }
    if (m.quick_replies !== undefined) {
        if (!Array.isArray(m.quick_replies)) return invalid('Param message[quick_replies] must be an array');
        if (m.quick_replies.length > 13) return invalid('Param message[quick_replies] must have at most 13 elements');
    }
    if (body.tag !== undefined && body.tag !== 'HUMAN_AGENT') {
        return invalid(`Param tag must be HUMAN_AGENT: ${JSON.stringify(body.tag)} is not available for Instagram Messaging`);
    }
    if (body.messaging_type === 'MESSAGE_TAG' && body.tag === undefined) return invalid('Param tag is required when messaging_type is MESSAGE_TAG');
    return null;
}

function handleMessages(ctx, body, step) {
    const forced = step && step.ok;
    if (!forced) {
        const bad = checkMessages(body);
        if (bad) return bad;
        const cid = body.recipient.comment_id;
        if (isStr(cid) && st.privateReplied.has(cid)) {
            /* The real error for a second private reply is UNCERTAIN (instagram-platform.md §2:
             * subcodes 2534014 and 2534025 are both claimed by third parties, neither confirmed
             * on a Meta page). This fake answers code 10 with subcode 2534025. */
            return graphError(10, 2534025, 'Only one private reply is allowed per comment');
        }
    }
    if (isObj(body) && body.sender_action !== undefined) return json({ recipient_id: recipientOf(body.recipient) });
    return deliver(ctx, isObj(body) ? body : {}, step, !(step && step.echo === false));
}

function profileAnswer(ctx, url) {
    const p = { ...PROFILE, ...(st.profiles.get(ctx.node) || {}), id: ctx.node };
    const f = url.searchParams.get('fields');
    if (f === null || f.trim() === '') return json(p);
    const want = parseFields(f);
    const out = {};
    for (const k of Object.keys(p)) if (k === 'id' || want.has(k)) out[k] = p[k];
    return json(out);
}

function rateLimited(account) {
    if (!st.convPerS) return false;
    const now = Date.now();
    const calls = (st.convCalls.get(account) || []).filter((t) => t > now - 1000);
    calls.push(now);
    st.convCalls.set(account, calls);
    return calls.length > st.convPerS;
}

const cursor = (i) => Buffer.from(`fake_cursor:${i}`).toString('base64url');
function uncursor(s) {
    const m = /^fake_cursor:(\d+)$/.exec(Buffer.from(String(s), 'base64url').toString('latin1'));
    return m ? Number(m[1]) : null;
}

function listConversations(ctx, url, req, step) {
    if (!(step && step.ok) && rateLimited(ctx.account)) return fixtureAnswer(RATE_ERROR);
    const q = url.searchParams;
    if (q.get('platform') !== 'instagram') return invalid('The parameter platform is required and must be instagram');
    const data = st.conversations.get(ctx.account) || { pageSize: 25, list: [] };
    let list = data.list;
    const uid = q.get('user_id');
    if (uid !== null) {
        list = list.filter((c) => c.messages.some((m) => (isObj(m.from) && m.from.id === uid)
            || (isObj(m.to) && Array.isArray(m.to.data) && m.to.data.some((t) => isObj(t) && t.id === uid))));
        return json({ data: list.map((c) => ({ id: c.id })) });
    }
    let size = data.pageSize;
    if (q.get('limit') !== null) {
        size = Number(q.get('limit'));
        if (!Number.isInteger(size) || size < 1) return invalid('Param limit must be a positive integer');
    }
    let start = 0;
    if (q.get('after') !== null) {
        const i = uncursor(q.get('after'));
        if (i === null) return invalid('Param after is not a valid cursor');
        start = i + 1;
    }
    const page = list.slice(start, start + size);
    if (page.length === 0) return json({ data: [] });
    const last = start + page.length - 1;
    const paging = { cursors: { before: cursor(start), after: cursor(last) } };
    if (last + 1 < list.length) {
        const nq = new URLSearchParams(q);
        nq.set('after', cursor(last));
        paging.next = `http://${req.headers.host || `${opt.host}:${server.address().port}`}${url.pathname}?${nq}`;
    }
    return json({ data: page.map((c) => ({ id: c.id, updated_time: c.updated_time })), paging });
}

function conversationMessages(ctx, url, step) {
    if (!(step && step.ok) && rateLimited(ctx.account)) return fixtureAnswer(RATE_ERROR);
    const conv = ctx.conv;
    const fields = parseFields(url.searchParams.get('fields') || '');
    const out = {};
    if (fields.has('messages')) {
        const inner = fields.get('messages');
        const want = inner === null ? new Set(['id', 'created_time']) : new Set(parseFields(inner).keys());
        const msgs = conv.messages.map((m, i) => [m, i])
            .sort((a, b) => (Date.parse(b[0].created_time) || 0) - (Date.parse(a[0].created_time) || 0) || b[1] - a[1])
            .slice(0, 20) /* only the 20 most recent messages can be read (instagram-platform.md §6) */
            .map(([m]) => Object.fromEntries(Object.entries(m).filter(([k]) => k === 'id' || want.has(k))));
        out.messages = { data: msgs };
    }
    if (fields.has('updated_time')) out.updated_time = conv.updated_time;
    out.id = conv.id;
    return json(out);
}

function commentReply(ctx, url, body) {
    const text = isObj(body) && body.message !== undefined ? body.message : url.searchParams.get('message');
    if (!isStr(text)) return invalid('The parameter message is required');
    const id = `1790000${String(++replyCounter).padStart(10, '0')}`;
    ctx.rec.message_id = id;
    remember(st.commentReplies, { id, comment_id: ctx.node, message: text }, opt.maxRecorded);
    return json({ id });
}

/* ---------------------------------------------------------------- dispatch */

function findConversation(id) {
    for (const [account, d] of st.conversations) {
        const conv = d.list.find((c) => c.id === id);
        if (conv) return { account, conv };
    }
    return null;
}

/* {kind, node, account, conv?} of a Graph path; kind "unknown" when no route fits */
function classify(method, pathname, body) {
    const dec = (s) => {
        try { return decodeURIComponent(s); } catch { return s; }
    };
    const segs = pathname.split('/').filter(Boolean).map(dec);
    if (segs.length > 0 && /^v\d+(\.\d+)?$/.test(segs[0])) segs.shift();
    const node = segs[0] ?? '';
    const account = node === 'me' ? st.account : st.pages.get(node) ?? node;
    const c = { kind: 'unknown', node, account };
    if (segs.length === 2 && method === 'POST' && segs[1] === 'messages') {
        c.kind = isObj(body) && body.sender_action !== undefined && body.message === undefined ? 'action' : 'send';
    } else if (segs.length === 2 && method === 'GET' && segs[1] === 'conversations') {
        c.kind = 'conversations';
    } else if (segs.length === 2 && method === 'POST' && segs[1] === 'replies') {
        c.kind = 'comment_reply';
    } else if (segs.length === 1 && method === 'GET' && node !== 'me') {
        const found = findConversation(node);
        if (found) Object.assign(c, { kind: 'conversation', account: found.account, conv: found.conv });
        else c.kind = 'profile';
    }
    return c;
}

function tokenOf(req, url) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization || '');
    if (m) return m[1];
    const q = url.searchParams.get('access_token');
    return isStr(q) ? q : null;
}

const tokenOk = (t) => isStr(t) && (st.valid.size === 0 || st.valid.has(t));

function answerFor(ctx, req, url, body, step) {
    switch (ctx.kind) {
    case 'send': case 'action': return handleMessages(ctx, body, step);
    case 'profile': return profileAnswer(ctx, url);
    case 'conversations': return listConversations(ctx, url, req, step);
    case 'conversation': return conversationMessages(ctx, url, step);
    case 'comment_reply': return commentReply(ctx, url, body);
    default: return unsupported(req.method, ctx.node);
    }
}

function write(res, rec, ans) {
    if (res.destroyed) return; /* the client went away: nothing was answered */
    rec.status = ans.status;
    res.writeHead(ans.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': ans.body.length });
    res.end(ans.body);
}

async function handleGraph(req, res, url, raw) {
    let body = null;
    if (raw.length > 0) {
        try { body = JSON.parse(raw); } catch { body = raw; }
    }
    const ctx = classify(req.method, url.pathname, body);
    const rec = {
        seq: ++seq, kind: ctx.kind, method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        auth: tokenOf(req, url), body, at_ms: Date.now(), status: null, message_id: null, delivered: false, hung: false,
    };
    ctx.rec = rec;
    remember(st.requests, rec, opt.maxRecorded);
    vlog(req.method, url.pathname, ctx.kind);
    if (!tokenOk(rec.auth)) return write(res, rec, fixtureAnswer(TOKEN_ERROR, 400));
    const step = ctx.kind === 'unknown' ? null : takeStep(ctx.kind);
    if (step) vlog('step', JSON.stringify(step));
    const isSend = ctx.kind === 'send' && isObj(body);
    let ans = null;
    if (step && step.hang) {
        if (isSend) deliver(ctx, body, step, step.echo === true);
        rec.hung = true;
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return undefined;
    }
    if (step && step.fixture !== undefined) {
        ans = fixtureAnswer(step.fixture, step.status);
        if (isSend && step.echo === true) deliver(ctx, body, step, true);
    } else {
        ans = answerFor(ctx, req, url, body, step);
    }
    if (step && step.delay_ms) await new Promise((r) => setTimeout(r, step.delay_ms));
    return write(res, rec, ans);
}

/* ---------------------------------------------------------------- control */

function loadConversations(s) {
    if (!isObj(s)) throw new Error('body must be an object');
    const account = s.account === undefined ? st.account : s.account;
    if (!isStr(account)) throw new Error('account must be a string');
    const pageSize = s.page_size ?? 25;
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error('page_size must be a positive integer');
    if (!Array.isArray(s.conversations)) throw new Error('conversations must be an array');
    const list = s.conversations.map((c, i) => {
        if (!isObj(c) || !isStr(c.id)) throw new Error(`conversations[${i}].id must be a string`);
        const messages = c.messages ?? [];
        if (!Array.isArray(messages) || !messages.every((m) => isObj(m) && isStr(m.id))) {
            throw new Error(`conversations[${i}].messages must be objects with an id`);
        }
        return { ...c, messages };
    });
    st.conversations.set(account, { pageSize, list });
    return { ok: true, account, conversations: list.length };
}

function putAll(s, map, valueOk, what) {
    if (!isObj(s) || !Object.values(s).every(valueOk)) throw new Error(`body must be an object of ${what}`);
    for (const [k, v] of Object.entries(s)) map.set(k, v);
    return { ok: true };
}

const CONTROL = {
    'GET /_health': () => ({ ok: true }),
    'GET /_requests': (s, url) => {
        const kind = url.searchParams.get('kind');
        const all = st.requests.slice(-opt.maxRecorded);
        return kind ? all.filter((r) => r.kind === kind) : all;
    },
    'DELETE /_requests': () => { st.requests = []; return { ok: true }; },
    'GET /_echoes': () => st.echoes.slice(-opt.maxRecorded),
    'DELETE /_echoes': () => { st.echoes = []; return { ok: true }; },
    'POST /_reset': () => {
        for (const t of echoTimers) clearTimeout(t);
        echoTimers.clear();
        st = freshState();
        return { ok: true };
    },
    'POST /_tokens': (s) => {
        if (!isObj(s) || !Array.isArray(s.valid) || !s.valid.every(isStr)) throw new Error('valid must be an array of non-empty strings');
        st.valid = new Set(s.valid);
        return { ok: true, valid: s.valid.length };
    },
    'POST /_account': (s) => {
        if (!isObj(s) || !isStr(s.id)) throw new Error('id must be a non-empty string');
        if (s.page_id !== undefined && !isStr(s.page_id)) throw new Error('page_id must be a non-empty string');
        st.account = s.id;
        if (s.page_id !== undefined) st.pages.set(s.page_id, s.id);
        return { ok: true, account: st.account };
    },
    'POST /_echo': (s) => {
        if (!isObj(s)) throw new Error('body must be an object');
        if (s.enabled !== undefined && typeof s.enabled !== 'boolean') throw new Error('enabled must be true or false');
        if (s.delay_ms !== undefined && !(Number.isInteger(s.delay_ms) && s.delay_ms >= 0)) throw new Error('delay_ms must be a non-negative integer');
        if (s.webhook !== undefined && !(opt.webhook !== null && typeof s.webhook === 'string' && s.webhook.startsWith(opt.webhook.split(':')[0] + ':'))) {
            throw new Error('webhook must be a URL of the scheme given with --webhook');
        }
        if (s.enabled !== undefined) st.echo.enabled = s.enabled;
        if (s.delay_ms !== undefined) st.echo.delayMs = s.delay_ms;
        if (s.webhook !== undefined) opt.webhook = s.webhook; /* the server moved to another port */
        return { ok: true, ...st.echo, webhook: opt.webhook };
    },
    'POST /_limits': (s) => {
        const n = isObj(s) ? s.conversations_per_s : undefined;
        if (!(n === null || (Number.isInteger(n) && n >= 0))) throw new Error('conversations_per_s must be a non-negative integer or null');
        st.convPerS = n ?? 0;
        st.convCalls.clear();
        return { ok: true, conversations_per_s: st.convPerS };
    },
    'POST /_conversations': (s) => loadConversations(s),
    'POST /_comments': (s) => putAll(s, st.commenters, isStr, 'comment id → commenter id (a non-empty string)'),
    'POST /_profiles': (s) => putAll(s, st.profiles, isObj, 'igsid → profile fields (an object)'),
    'GET /_script': () => st.steps,
    'DELETE /_script': () => { st.steps = []; return { ok: true }; },
    'POST /_script': (s) => {
        if (!isObj(s) || !Array.isArray(s.steps)) throw new Error('steps must be an array');
        s.steps.forEach(validateStep);
        for (const step of s.steps) {
            const { count, ...one } = step;
            for (let i = 0; i < (count ?? 1); i++) st.steps.push({ ...one });
        }
        return { ok: true, pending: st.steps.length };
    },
};

function handleControl(req, res, url, raw) {
    const reply = (status, obj) => {
        const b = Buffer.from(JSON.stringify(obj));
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
        res.end(b);
    };
    const fn = CONTROL[`${req.method} ${url.pathname}`];
    if (!fn) return reply(404, { error: `no control route ${req.method} ${url.pathname}` });
    let s = null;
    try {
        if (req.method === 'POST' && raw.trim() !== '') s = JSON.parse(raw);
        return reply(200, fn(s, url));
    } catch (e) {
        return reply(400, { error: String(e.message || e) });
    }
}

/* ---------------------------------------------------------------- server */

const MAX_BODY = 16 * 1024 * 1024;

const server = http.createServer({ keepAlive: true, noDelay: true, requestTimeout: 0, headersTimeout: 60000 }, (req, res) => {
    const url = new URL(req.url, 'http://fake');
    const bufs = [];
    let size = 0;
    req.on('data', (b) => {
        size += b.length;
        if (size <= MAX_BODY) bufs.push(b);
    });
    req.on('end', () => {
        if (size > MAX_BODY) {
            res.writeHead(413, { 'content-type': 'application/json' });
            res.end(graphError(100, null, '(#100) The request body is too large').body);
            return;
        }
        const raw = Buffer.concat(bufs).toString('utf8');
        const done = url.pathname.startsWith('/_') ? Promise.resolve(handleControl(req, res, url, raw))
            : handleGraph(req, res, url, raw);
        done.catch((e) => {
            process.stderr.write(`fake_graph: ${req.method} ${url.pathname}: ${e && e.stack ? e.stack : e}\n`);
            if (!res.headersSent) {
                res.writeHead(500, { 'content-type': 'application/json' });
                res.end(JSON.stringify({ error: `fake_graph internal error: ${e.message}` }));
            } else {
                res.destroy();
            }
        });
    });
    req.on('error', () => {});
});
server.maxConnections = 1000000;
server.keepAliveTimeout = 30000;
server.timeout = 0;
server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
});

function shutdown() {
    for (const t of echoTimers) clearTimeout(t);
    server.close();
    server.closeAllConnections();
    for (const r of hung) r.destroy();
    process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen({ port: opt.port, host: opt.host, backlog: 4096 }, () => {
    const port = server.address().port;
    if (opt.portFile) {
        const tmp = `${opt.portFile}.tmp${process.pid}`;
        fs.writeFileSync(tmp, `${port}\n`);
        fs.renameSync(tmp, opt.portFile);
    }
    process.stdout.write(`listening ${port}\n`);
});
server.on('error', (e) => die(`listen ${opt.host}:${opt.port}: ${e.message}`));
