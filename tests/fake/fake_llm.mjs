#!/usr/bin/env node
/*
 * fake_llm.mjs: a fake OpenAI + Anthropic HTTP server for direkt's integration tests and
 * benchmarks. Node built-ins only (no npm packages).
 *
 *   node tests/fake/fake_llm.mjs --port 0 --fixtures DIR [--host 127.0.0.1] [--delay-ms N]
 *        [--stream-delay-ms N] [--port-file F] [--models a,b,c] [--strict-models]
 *        [--api-key KEY] [--embed-dim N] [--max-recorded N] [--verbose]
 *
 * Prints "listening PORT" on stdout once it accepts connections (and writes PORT to --port-file,
 * atomically). SIGTERM/SIGINT close every connection and exit 0.
 *
 * Provider routes speak the real wire formats (shapes of shared/fixtures/llm/*):
 *   POST /v1/chat/completions   OpenAI chat, plain or SSE (role chunk, word chunks, finish chunk,
 *                               usage chunk with "choices": [] when stream_options.include_usage,
 *                               data: [DONE])
 *   POST /v1/embeddings         OpenAI embeddings, float or base64 (little-endian float32);
 *                               vectors are L2-normalised hashed word+trigram features, so equal
 *                               texts give equal vectors and similar texts similar ones
 *   POST /v1/messages           Anthropic Messages, plain or SSE (message_start,
 *                               content_block_start, ping, text deltas, content_block_stop,
 *                               message_delta with cumulative usage, message_stop)
 *   POST /v1/messages/count_tokens  Anthropic {"input_tokens": N}
 *   GET  /v1/models[/ID]        Anthropic shape when the request has anthropic-version or
 *                               x-api-key, else OpenAI shape; ids from --models
 * Auth: OpenAI needs "Authorization: Bearer K"; Anthropic needs x-api-key or Bearer and an
 * anthropic-version header. With --api-key, K must equal it. Models named "no-such-…" (or,
 * with --strict-models, any model not in --models) get a 404 in the provider's error shape.
 * Bad requests get the provider's 400 (no model/messages, bad roles, Anthropic without
 * max_tokens, or temperature/top_p/top_k with anthropic-version 2026-10-21, as the real API).
 *
 * Default answer (deterministic, from the request): a line "ECHO: <text>" in the last user
 * message → "<text>"; else a JSON schema in the request (response_format json_schema /
 * output_config.format) → a trivial object satisfying it; else a "Facts" section in the system
 * prompt → the first fact's answer; else "Fake reply to: <first 60 chars of the last user
 * message>". Tokens ≈ characters / 4. max_tokens / max_completion_tokens cut the answer
 * (finish_reason "length" / stop_reason "max_tokens").
 *
 * Control routes (the step keys are listed above STEP_KEYS below):
 *   POST /_script {"route":"openai"|"anthropic"|"any","steps":[...]}  append steps (FIFO per route)
 *   GET /_script (pending steps), DELETE /_script (clear every queue)
 *   GET /_requests[?path=/v1/messages] (what was received), DELETE /_requests, GET /_health → ok
 *   GET /_stats {requests_total, inflight, max_inflight} (provider requests), DELETE /_stats
 *
 * Design: one http.Server with high connection limits (benchmarks hold 1,000+ connections for a
 * second each; raise `ulimit -n` in the shell that starts it); nothing is logged per request
 * unless --verbose (stderr). Every answer is built as a list of byte chunks and written by one
 * writer that knows how to split, delay, cut or stall it, so every scripted fault works on every
 * route.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

/* ---------------------------------------------------------------- options */

function parseArgs(argv) {
    const o = {
        port: 0, host: '127.0.0.1', fixtures: null, delayMs: 0, streamDelayMs: 0, portFile: null,
        models: ['local', 'gpt-4o-mini', 'text-embedding-3-small', 'claude-sonnet-4-5'],
        strictModels: false, apiKey: null, embedDim: 64, maxRecorded: 20000, verbose: false,
    };
    const num = (name, v) => {
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 0) die(`${name} needs a non-negative integer`);
        return n;
    };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        switch (a) {
        case '--port': o.port = num(a, v); i++; break;
        case '--host': o.host = v; i++; break;
        case '--fixtures': o.fixtures = v; i++; break;
        case '--delay-ms': o.delayMs = num(a, v); i++; break;
        case '--stream-delay-ms': o.streamDelayMs = num(a, v); i++; break;
        case '--port-file': o.portFile = v; i++; break;
        case '--models': o.models = String(v).split(',').map((s) => s.trim()).filter(Boolean); i++; break;
        case '--strict-models': o.strictModels = true; break;
        case '--api-key': o.apiKey = v; i++; break;
        case '--embed-dim': o.embedDim = num(a, v) || 1; i++; break;
        case '--max-recorded': o.maxRecorded = num(a, v); i++; break;
        case '--verbose': o.verbose = true; break;
        case '-h': case '--help':
            process.stdout.write('usage: fake_llm.mjs --port N --fixtures DIR [--delay-ms N] [--port-file F] ' +
                '[--host H] [--stream-delay-ms N] [--models a,b] [--strict-models] [--api-key K] ' +
                '[--embed-dim N] [--max-recorded N] [--verbose]\n');
            process.exit(0);
            break;
        default: die(`unknown argument ${a}`);
        }
    }
    if (!o.fixtures) die('--fixtures DIR is required');
    if (!fs.existsSync(o.fixtures) || !fs.statSync(o.fixtures).isDirectory()) die(`--fixtures ${o.fixtures}: not a directory`);
    return o;
}

function die(msg) {
    process.stderr.write(`fake_llm: ${msg}\n`);
    process.exit(2);
}

const opt = parseArgs(process.argv);
const vlog = (...a) => { if (opt.verbose) process.stderr.write(`fake_llm: ${a.join(' ')}\n`); };

/* ---------------------------------------------------------------- state */

const queues = { openai: [], anthropic: [], any: [] };
let recorded = [];
const stats = { requests_total: 0, inflight: 0, max_inflight: 0 };
let seq = 0;
const nextId = () => (++seq).toString(36).padStart(6, '0');

/*
 * Script steps. Keys (all optional, combinable; unknown keys are rejected when posted):
 *   path         apply only to requests with this path (else: to POST chat/messages/embeddings)
 *   repeat       insert the step N times
 *   status       HTTP status; alone, a provider-shaped error body for it
 *   fixture      reply with this fixture file verbatim (content-type from the extension)
 *   body         reply with this string (objects are JSON-encoded) verbatim
 *   headers      extra response headers
 *   delay_ms     wait before answering (instead of --delay-ms)
 *   stream_fixture  reply 200 with this .sse fixture verbatim
 *   content      answer with this text (normal shapes, stream or not)
 *   cut_after_chunks  write N chunks (SSE events; half the body when not streaming), then
 *                destroy the socket; never writes the terminator
 *   chunk_bytes  write the body in pieces of N bytes (splits lines and UTF-8 sequences)
 *   chunk_delay_ms  pause between pieces/chunks (default: setImmediate, or --stream-delay-ms)
 *   hang         never answer; with cut_after_chunks: write N chunks then stall, socket open
 *   reset        destroy the socket without any answer
 */
const STEP_KEYS = new Set(['path', 'repeat', 'status', 'fixture', 'body', 'headers', 'delay_ms',
    'stream_fixture', 'content', 'cut_after_chunks', 'chunk_bytes', 'chunk_delay_ms', 'hang', 'reset']);

function fixturePath(name) {
    if (typeof name !== 'string' || name === '' || name !== path.basename(name) || name.startsWith('.')) {
        throw new Error(`bad fixture name ${JSON.stringify(name)}`);
    }
    const p = path.join(opt.fixtures, name);
    if (!fs.existsSync(p)) throw new Error(`no fixture ${name} in ${opt.fixtures}`);
    return p;
}

function validateStep(s) {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new Error('a step must be an object');
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k)) throw new Error(`unknown step key ${k}`);
    const intKeys = ['status', 'delay_ms', 'cut_after_chunks', 'chunk_bytes', 'chunk_delay_ms', 'repeat'];
    for (const k of intKeys) {
        if (k in s && (!Number.isInteger(s[k]) || s[k] < 0)) throw new Error(`${k} must be a non-negative integer`);
    }
    if ('status' in s && (s.status < 100 || s.status > 599)) throw new Error('status must be 100..599');
    if ('chunk_bytes' in s && s.chunk_bytes < 1) throw new Error('chunk_bytes must be >= 1');
    if ('fixture' in s) fixturePath(s.fixture);
    if ('stream_fixture' in s) fixturePath(s.stream_fixture);
    if ('content' in s && typeof s.content !== 'string') throw new Error('content must be a string');
    if ('path' in s && typeof s.path !== 'string') throw new Error('path must be a string');
    if ('headers' in s && (typeof s.headers !== 'object' || s.headers === null)) throw new Error('headers must be an object');
    if ([s.fixture, s.body, s.stream_fixture].filter((x) => x !== undefined).length > 1) {
        throw new Error('use only one of fixture, body, stream_fixture');
    }
}

const GENERATION_PATHS = new Set(['/v1/chat/completions', '/v1/embeddings', '/v1/messages']);

function takeStep(route, method, pathname) {
    for (const q of [queues[route], queues.any]) {
        const i = q.findIndex((s) => (s.path !== undefined ? s.path === pathname
            : method === 'POST' && GENERATION_PATHS.has(pathname)));
        if (i >= 0) return q.splice(i, 1)[0];
    }
    return null;
}

/* ---------------------------------------------------------------- request text helpers */

function partsText(content) {
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
        return content.map((p) => (typeof p === 'string' ? p
            : p && typeof p.text === 'string' ? p.text : '')).filter(Boolean).join('\n');
    }
    return '';
}

const chars = (s) => Array.from(s).length;
const tokens = (s) => Math.max(1, Math.ceil(chars(s) / 4));

/* The conversation of a chat request as {system, lastUser, all} strings. */
function conversation(body, kind) {
    const msgs = Array.isArray(body.messages) ? body.messages : [];
    const sys = [];
    if (kind === 'anthropic') sys.push(partsText(body.system));
    let lastUser = '';
    const all = [];
    for (const m of msgs) {
        if (!m || typeof m !== 'object') continue;
        const t = partsText(m.content);
        all.push(t);
        if (m.role === 'system' || m.role === 'developer') sys.push(t);
        if (m.role === 'user') lastUser = t;
    }
    const system = sys.filter(Boolean).join('\n');
    return { system, lastUser, all: [system, ...all].join('\n') };
}

/* The first fact's answer of a "Facts" section ("Facts:", "## Facts", "Facts from the knowledge
 * base:", "Факты:"): an "A:"/"Answer:" line (or the part after an inline "A:"), else the first
 * non-empty line of the section with bullets and a leading "Q: …?" removed. */
function firstFact(system) {
    const lines = system.split(/\r\n|\r|\n/);
    const head = lines.findIndex((l) => /^[\s#*_>-]*(facts|факты)(?![\p{L}\p{N}])/iu.test(l));
    if (head < 0 || /^[\s#*_>-]*(facts|факты)\s*:\s*(none|нет)/iu.test(lines[head])) return null;
    let fallback = null;
    for (let i = head + 1; i < lines.length; i++) {
        const l = lines[i].trim();
        if (l === '') continue;
        if (/^#/.test(l) || /^[\p{Lu}][\p{L} ]{0,40}:$/u.test(l)) break; /* the next section */
        const ans = /^(?:[-*•]\s*|\d+[.)]\s*)?(?:A|Answer|Ответ)\s*:\s*(.+)$/iu.exec(l)
            || /(?<![\p{L}\p{N}])(?:A|Answer|Ответ)\s*:\s*(.+)$/u.exec(l);
        if (ans) return ans[1].trim();
        if (fallback === null) {
            let t = l.replace(/^(?:[-*•]\s*|\d+[.)]\s*)/u, '');
            t = t.replace(/^(?:Q|Question|Вопрос)\s*:\s*[^?]*\?\s*/iu, '');
            if (t !== '') fallback = t;
        }
        if (fallback !== null) {
            /* the answer may be on the next line ("Q: …" then "A: …") */
            const nx = (lines[i + 1] || '').trim();
            if (!/^(?:[-*•]\s*)?(?:A|Answer|Ответ)\s*:/iu.test(nx)) return fallback;
        }
    }
    return fallback;
}

/* A value satisfying a JSON schema trivially; the property name picks nicer values. */
function fromSchema(schema, name, root, depth = 0) {
    if (!schema || typeof schema !== 'object' || depth > 20) return null;
    if (typeof schema.$ref === 'string') {
        const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
        const d = m && root[m[1]] && root[m[1]][m[2]];
        return fromSchema(d, name, root, depth + 1);
    }
    if ('const' in schema) return schema.const;
    const alt = schema.anyOf || schema.oneOf || schema.allOf;
    if (Array.isArray(alt) && alt.length > 0) {
        const nonNull = alt.find((a) => a && a.type !== 'null') || alt[0];
        return fromSchema(nonNull, name, root, depth + 1);
    }
    let type = schema.type;
    if (Array.isArray(type)) type = type.find((t) => t !== 'null') || 'null';
    if (!type) type = schema.properties ? 'object' : Array.isArray(schema.enum) ? typeof schema.enum[0] : 'string';
    const byName = { intent: 'price', label: 'price', confidence: 0.9, sentiment: 'positive', score: 0.5 }[name];
    if (Array.isArray(schema.enum) && schema.enum.length > 0) {
        return schema.enum.includes(byName) ? byName : schema.enum[0];
    }
    switch (type) {
    case 'object': {
        const o = {};
        for (const [k, v] of Object.entries(schema.properties || {})) o[k] = fromSchema(v, k, root, depth + 1);
        return o;
    }
    case 'array': {
        const n = schema.minItems || 0;
        return Array.from({ length: n }, () => fromSchema(schema.items || {}, '', root, depth + 1));
    }
    case 'string':
        if (typeof byName === 'string') return byName;
        return 'x'.repeat(Math.max(1, schema.minLength || 1));
    case 'number': case 'integer': {
        let n = typeof byName === 'number' && type === 'number' ? byName : 0;
        if (typeof schema.minimum === 'number' && n < schema.minimum) n = schema.minimum;
        if (typeof schema.maximum === 'number' && n > schema.maximum) n = schema.maximum;
        return type === 'integer' ? Math.ceil(n) : n;
    }
    case 'boolean': return false;
    default: return null;
    }
}

function requestSchema(body, kind) {
    if (kind === 'openai') {
        const rf = body.response_format;
        if (rf && rf.type === 'json_schema' && rf.json_schema) return rf.json_schema.schema || {};
        if (rf && rf.type === 'json_object') return rf.schema || {};
        return null;
    }
    const f = body.output_config && body.output_config.format;
    if (f && f.type === 'json_schema') return f.schema || {};
    return null;
}

/* The answer text of a chat request (see the header comment). */
function defaultContent(body, kind) {
    const c = conversation(body, kind);
    const echo = /^ECHO: ?(.*)$/m.exec(c.lastUser);
    if (echo) return echo[1].replace(/\r$/, '');
    const schema = requestSchema(body, kind);
    if (schema) return JSON.stringify(fromSchema(schema, '', schema));
    const fact = firstFact(c.system);
    if (fact) return fact;
    return `Fake reply to: ${Array.from(c.lastUser).slice(0, 60).join('')}`;
}

/* Word pieces for streaming: leading whitespace stays with the next word; joins to s. */
const pieces = (s) => s.match(/\s*\S+|\s+$/gu) || [];

/* ---------------------------------------------------------------- embeddings */

function fnv1a(str) {
    let h = 0x811c9dc5;
    for (const b of Buffer.from(str, 'utf8')) {
        h ^= b;
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
}

function embed(text, dim) {
    const v = new Float64Array(dim);
    const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
    const feats = [];
    for (const w of words) {
        feats.push(`w:${w}`);
        const p = Array.from(` ${w} `);
        for (let i = 0; i + 3 <= p.length; i++) feats.push(`t:${p.slice(i, i + 3).join('')}`);
    }
    for (const f of feats) {
        const h = fnv1a(f);
        v[h % dim] += (h & 0x80000000) ? -1 : 1;
    }
    let norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    if (norm === 0) { v[0] = 1; norm = 1; }
    return Array.from(v, (x) => Math.fround(x / norm));
}

function embeddingBase64(vec) {
    const b = Buffer.alloc(vec.length * 4);
    vec.forEach((x, i) => b.writeFloatLE(x, i * 4));
    return b.toString('base64');
}

/* ---------------------------------------------------------------- errors */

const OPENAI_ERR = {
    400: ['invalid_request_error', null], 401: ['invalid_request_error', 'invalid_api_key'],
    403: ['permission_denied', null], 404: ['invalid_request_error', 'model_not_found'],
    408: ['timeout', null], 409: ['conflict', null], 422: ['invalid_request_error', null],
    429: ['requests', 'rate_limit_exceeded'], 500: ['server_error', null],
    503: ['service_unavailable_error', 'server_is_overloaded'],
};
const ANTHROPIC_ERR = {
    400: 'invalid_request_error', 401: 'authentication_error', 402: 'billing_error',
    403: 'permission_error', 404: 'not_found_error', 409: 'conflict_error', 413: 'request_too_large',
    429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};

function errorBody(kind, status, message, extra = {}) {
    if (kind === 'anthropic') {
        const type = ANTHROPIC_ERR[status] || (status >= 500 ? 'api_error' : 'invalid_request_error');
        return { type: 'error', error: { type, message }, request_id: `req_fake${nextId()}` };
    }
    const [type, code] = OPENAI_ERR[status] || [status >= 500 ? 'server_error' : 'invalid_request_error', null];
    return { error: { message, type, param: extra.param ?? null, code: extra.code ?? code } };
}

/* ---------------------------------------------------------------- the writer */

const sleep = (ms) => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

/*
 * Sends an answer: {status, headers, chunks: [Buffer], stream: bool}, shaped by a step.
 * Non-stream answers get a Content-Length; streams are chunked.
 */
async function send(req, res, ans, step) {
    const s = step || {};
    const headers = { ...ans.headers };
    for (const [k, v] of Object.entries(s.headers || {})) headers[k.toLowerCase()] = String(v);
    let chunks = ans.chunks;
    const whole = Buffer.concat(chunks);
    let cutAfter = null;
    if (s.cut_after_chunks !== undefined) {
        if (ans.stream) {
            cutAfter = Math.min(s.cut_after_chunks, Math.max(0, chunks.length - 1));
            chunks = chunks.slice(0, cutAfter);
        } else {
            cutAfter = 1;
            chunks = [whole.subarray(0, Math.floor(whole.length / 2))];
        }
    }
    if (!ans.stream) headers['content-length'] = String(whole.length);
    if (s.chunk_bytes) {
        const all = Buffer.concat(chunks);
        chunks = [];
        for (let i = 0; i < all.length; i += s.chunk_bytes) chunks.push(all.subarray(i, i + s.chunk_bytes));
    }
    const gap = s.chunk_delay_ms ?? (ans.stream ? opt.streamDelayMs : 0);
    if (res.destroyed) return;
    res.writeHead(ans.status, headers);
    if (!ans.stream && !s.chunk_bytes && cutAfter === null) return void res.end(whole); /* common case */
    res.flushHeaders();
    for (let i = 0; i < chunks.length; i++) {
        if (res.destroyed) return;
        if (i > 0 && (ans.stream || s.chunk_bytes)) await sleep(gap);
        if (res.destroyed) return;
        /* the write callback fires once the piece is handed to the socket (backpressure) */
        await new Promise((resolve) => {
            res.once('close', resolve);
            res.write(chunks[i], () => { res.off('close', resolve); resolve(); });
        });
    }
    if (cutAfter !== null) {
        if (s.hang) return; /* stall with the socket open */
        req.socket.destroy();
        return;
    }
    res.end();
}

function jsonAnswer(status, obj, extraHeaders = {}) {
    return {
        status, stream: false, chunks: [Buffer.from(JSON.stringify(obj))],
        headers: { 'content-type': 'application/json', ...extraHeaders },
    };
}

function sseAnswer(events, extraHeaders = {}) {
    return {
        status: 200, stream: true, chunks: events.map((e) => Buffer.from(e)),
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...extraHeaders },
    };
}

function fixtureAnswer(name, status, stream) {
    const p = fixturePath(name);
    const data = fs.readFileSync(p);
    const type = name.endsWith('.sse') ? 'text/event-stream; charset=utf-8'
        : name.endsWith('.ndjson') ? 'application/x-ndjson' : 'application/json';
    /* SSE fixtures are split into events (so cut_after_chunks counts events), byte-exact */
    const chunks = stream ? data.toString('latin1').split(/(?<=\n\n)/).map((x) => Buffer.from(x, 'latin1')) : [data];
    return { status, stream, chunks, headers: { 'content-type': type } };
}

/* ---------------------------------------------------------------- provider answers */

function modelCheck(kind, model) {
    if (typeof model !== 'string' || model === '') return null;
    if (model.startsWith('no-such-') || (opt.strictModels && !opt.models.includes(model))) {
        const msg = kind === 'anthropic' ? `model: ${model}`
            : `The model \`${model}\` does not exist or you do not have access to it.`;
        return jsonAnswer(404, errorBody(kind, 404, msg, { code: 'model_not_found' }));
    }
    return null;
}

function clip(content, maxTokens) {
    if (!Number.isInteger(maxTokens) || maxTokens <= 0 || tokens(content) <= maxTokens) return [content, false];
    return [Array.from(content).slice(0, maxTokens * 4).join(''), true];
}

function openaiChat(body, step, rid) {
    if (typeof body.model !== 'string' || body.model === '') {
        return jsonAnswer(400, errorBody('openai', 400, 'you must provide a model parameter'));
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
        return jsonAnswer(400, errorBody('openai', 400, "Invalid 'messages': empty array.", { param: 'messages', code: 'empty_array' }));
    }
    const roles = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
    const bad = body.messages.findIndex((m) => !m || !roles.has(m.role));
    if (bad >= 0) {
        return jsonAnswer(400, errorBody('openai', 400, `Invalid value for 'messages[${bad}].role'.`, { param: `messages[${bad}].role`, code: 'invalid_value' }));
    }
    const nf = modelCheck('openai', body.model);
    if (nf) return nf;
    const raw = step && step.content !== undefined ? step.content : defaultContent(body, 'openai');
    const [content, cut] = clip(raw, body.max_completion_tokens ?? body.max_tokens);
    const finish = cut ? 'length' : 'stop';
    const ptok = tokens(conversation(body, 'openai').all);
    const ctok = content === '' ? 0 : tokens(content);
    const id = `chatcmpl-fake${rid}`;
    const created = Math.floor(Date.now() / 1000);
    const hdr = { 'x-request-id': `req_fake${rid}` };
    const usage = {
        prompt_tokens: ptok, completion_tokens: ctok, total_tokens: ptok + ctok,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    if (!body.stream) {
        return jsonAnswer(200, {
            id, object: 'chat.completion', created, model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: finish }],
            usage, service_tier: 'default',
        }, hdr);
    }
    const base = { id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_fake' };
    const ev = (o) => `data: ${JSON.stringify(o)}\n\n`;
    const choice = (delta, fr) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: fr }] });
    const events = [ev(choice({ role: 'assistant', content: '', refusal: null }, null))];
    for (const p of pieces(content)) events.push(ev(choice({ content: p }, null)));
    events.push(ev(choice({}, finish)));
    if (body.stream_options && body.stream_options.include_usage) {
        events.push(ev({ ...base, choices: [], usage: { prompt_tokens: ptok, completion_tokens: ctok, total_tokens: ptok + ctok, completion_tokens_details: { reasoning_tokens: 0 } } }));
    }
    events.push('data: [DONE]\n\n');
    return sseAnswer(events, hdr);
}

function openaiEmbeddings(body, rid) {
    let input = body.input;
    if (typeof body.model !== 'string' || body.model === '') {
        return jsonAnswer(400, errorBody('openai', 400, 'you must provide a model parameter'));
    }
    const nf = modelCheck('openai', body.model);
    if (nf) return nf;
    if (typeof input === 'string') input = [input];
    else if (Array.isArray(input) && input.length > 0 && input.every((x) => Number.isInteger(x))) input = [input];
    if (!Array.isArray(input) || input.length === 0 || input.length > 2048
        || input.some((x) => !(typeof x === 'string' || (Array.isArray(x) && x.every(Number.isInteger))))
        || input.some((x) => x.length === 0)) {
        return jsonAnswer(400, errorBody('openai', 400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", { param: 'input' }));
    }
    const fmt = body.encoding_format ?? 'float';
    if (fmt !== 'float' && fmt !== 'base64') {
        return jsonAnswer(400, errorBody('openai', 400, `Invalid value for 'encoding_format': ${fmt}`, { param: 'encoding_format', code: 'invalid_value' }));
    }
    const dim = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : opt.embedDim;
    let ptok = 0;
    const data = input.map((x, index) => {
        const text = typeof x === 'string' ? x : x.join(' ');
        ptok += typeof x === 'string' ? tokens(text) : x.length;
        const vec = embed(text, dim);
        return { object: 'embedding', index, embedding: fmt === 'base64' ? embeddingBase64(vec) : vec };
    });
    return jsonAnswer(200, { object: 'list', data, model: body.model, usage: { prompt_tokens: ptok, total_tokens: ptok } },
        { 'x-request-id': `req_fake${rid}` });
}

function anthropicMessages(body, step, rid, version) {
    const bad = (msg) => jsonAnswer(400, errorBody('anthropic', 400, msg));
    if (typeof body.model !== 'string' || body.model === '') return bad('model: Field required');
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return bad('max_tokens: Field required');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return bad('messages: Field required');
    const badRole = body.messages.findIndex((m) => !m || (m.role !== 'user' && m.role !== 'assistant'));
    if (badRole >= 0) return bad(`messages.${badRole}.role: Input should be 'user' or 'assistant'`);
    if (version >= '2026-10-21') {
        for (const k of ['temperature', 'top_p', 'top_k']) if (k in body) return bad(`${k}: Extra inputs are not permitted`);
    }
    const nf = modelCheck('anthropic', body.model);
    if (nf) return nf;
    const raw = step && step.content !== undefined ? step.content : defaultContent(body, 'anthropic');
    const [content, cut] = clip(raw, body.max_tokens);
    const stop = cut ? 'max_tokens' : 'end_turn';
    const itok = tokens(conversation(body, 'anthropic').all);
    const otok = content === '' ? 0 : tokens(content);
    const id = `msg_fake${rid}`;
    const hdr = { 'request-id': `req_fake${rid}` };
    if (!body.stream) {
        return jsonAnswer(200, {
            model: body.model, id, type: 'message', role: 'assistant',
            content: [{ type: 'text', text: content }], stop_reason: stop, stop_sequence: null,
            usage: { input_tokens: itok, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: otok, service_tier: 'standard' },
        }, hdr);
    }
    const ev = (type, o) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
    const events = [
        ev('message_start', { message: { id, type: 'message', role: 'assistant', content: [], model: body.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: itok, output_tokens: 1 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ev('ping', {}),
    ];
    for (const p of pieces(content)) events.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }));
    events.push(ev('content_block_stop', { index: 0 }));
    events.push(ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: otok } }));
    events.push(ev('message_stop', {}));
    return sseAnswer(events, hdr);
}

function modelsList(kind, pathname, rid) {
    const one = pathname.startsWith('/v1/models/') ? decodeURIComponent(pathname.slice('/v1/models/'.length)) : null;
    const created = 1686935002;
    if (kind === 'anthropic') {
        const m = (id) => ({ id, created_at: '2025-02-19T00:00:00Z', display_name: id, type: 'model' });
        if (one !== null) {
            return opt.models.includes(one) ? jsonAnswer(200, m(one))
                : jsonAnswer(404, errorBody('anthropic', 404, `model: ${one}`));
        }
        const data = opt.models.map(m);
        return jsonAnswer(200, { data, first_id: data.length ? data[0].id : null, has_more: false, last_id: data.length ? data[data.length - 1].id : null },
            { 'request-id': `req_fake${rid}` });
    }
    const m = (id) => ({ id, object: 'model', created, owned_by: 'organization-owner', shutdown_date: null });
    if (one !== null) {
        return opt.models.includes(one) ? jsonAnswer(200, m(one))
            : jsonAnswer(404, errorBody('openai', 404, `The model '${one}' does not exist`, { code: 'model_not_found', param: 'model' }));
    }
    return jsonAnswer(200, { object: 'list', data: opt.models.map(m) }, { 'x-request-id': `req_fake${rid}` });
}

/* ---------------------------------------------------------------- dispatch */

function routeOf(method, pathname, headers) {
    if (pathname === '/v1/messages' || pathname === '/v1/messages/count_tokens') return 'anthropic';
    if (pathname === '/v1/models' || pathname.startsWith('/v1/models/')) {
        return headers['anthropic-version'] || headers['x-api-key'] ? 'anthropic' : 'openai';
    }
    if (pathname.startsWith('/v1/')) return headers['anthropic-version'] ? 'anthropic' : 'openai';
    return null;
}

function bearer(headers) {
    const m = /^Bearer\s+(\S.*)$/i.exec(headers.authorization || '');
    return m ? m[1].trim() : null;
}

/* An auth/version problem answer, or null. */
function authCheck(route, headers) {
    if (route === 'openai') {
        const key = bearer(headers);
        if (key === null) {
            return jsonAnswer(401, errorBody('openai', 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", { code: null }));
        }
        if (opt.apiKey !== null && key !== opt.apiKey) {
            return jsonAnswer(401, errorBody('openai', 401, `Incorrect API key provided: ${key.slice(0, 3)}***. You can find your API key at https://platform.openai.com/account/api-keys.`));
        }
        return null;
    }
    const key = headers['x-api-key'] || bearer(headers);
    if (!key) return jsonAnswer(401, errorBody('anthropic', 401, 'x-api-key header is required'));
    if (opt.apiKey !== null && key !== opt.apiKey) return jsonAnswer(401, errorBody('anthropic', 401, 'invalid x-api-key'));
    if (!headers['anthropic-version']) return jsonAnswer(400, errorBody('anthropic', 400, 'anthropic-version: header is required'));
    return null;
}

function answerFor(route, method, pathname, headers, body, step, rid) {
    const isObj = body !== null && typeof body === 'object' && !Array.isArray(body);
    const notFound = () => jsonAnswer(404, errorBody(route, 404, `Invalid URL (${method} ${pathname})`));
    if (method === 'GET' && (pathname === '/v1/models' || pathname.startsWith('/v1/models/'))) return modelsList(route, pathname, rid);
    if (method !== 'POST') return notFound();
    if (!isObj && ['/v1/chat/completions', '/v1/embeddings', '/v1/messages', '/v1/messages/count_tokens'].includes(pathname)) {
        return jsonAnswer(400, errorBody(route, 400, 'We could not parse the JSON body of your request.'));
    }
    if (route === 'openai' && pathname === '/v1/chat/completions') return openaiChat(body, step, rid);
    if (route === 'openai' && pathname === '/v1/embeddings') return openaiEmbeddings(body, rid);
    if (route === 'anthropic' && pathname === '/v1/messages') return anthropicMessages(body, step, rid, String(headers['anthropic-version']));
    if (route === 'anthropic' && pathname === '/v1/messages/count_tokens') {
        return jsonAnswer(200, { input_tokens: tokens(conversation(body, 'anthropic').all) });
    }
    return notFound();
}

/* The answer a step makes on its own (fixture, body, status, stream_fixture), or null. */
function stepAnswer(route, s, wantsStream) {
    if (s.stream_fixture !== undefined) return fixtureAnswer(s.stream_fixture, s.status ?? 200, true);
    if (s.fixture !== undefined) return fixtureAnswer(s.fixture, s.status ?? 200, wantsStream && s.fixture.endsWith('.sse'));
    if (s.body !== undefined) {
        const text = typeof s.body === 'string' ? s.body : JSON.stringify(s.body);
        return { status: s.status ?? 200, stream: false, chunks: [Buffer.from(text)], headers: { 'content-type': 'application/json' } };
    }
    if (s.status !== undefined && s.status !== 200) {
        return jsonAnswer(s.status, errorBody(route, s.status, `Scripted error ${s.status} from the fake server.`));
    }
    return null;
}

const hung = new Set();

async function handleProvider(req, res, url, raw) {
    const headers = req.headers;
    const route = routeOf(req.method, url.pathname, headers);
    let body = null;
    if (raw.length > 0) {
        try { body = JSON.parse(raw); } catch { body = raw; }
    }
    const rid = nextId();
    stats.requests_total++;
    stats.max_inflight = Math.max(stats.max_inflight, ++stats.inflight);
    res.once('close', () => stats.inflight--);
    recorded.push({ method: req.method, path: url.pathname + url.search, headers, body, at: Date.now() });
    if (opt.maxRecorded > 0 && recorded.length > opt.maxRecorded) recorded.splice(0, recorded.length - opt.maxRecorded);
    vlog(req.method, url.pathname, route || '-');
    if (route === null) {
        return send(req, res, jsonAnswer(404, errorBody('openai', 404, `Invalid URL (${req.method} ${url.pathname})`)));
    }
    const denied = authCheck(route, headers);
    if (denied) return send(req, res, denied);
    const step = takeStep(route, req.method, url.pathname);
    if (step) vlog('step', JSON.stringify(step));
    if (step && step.reset) { req.socket.destroy(); return undefined; }
    if (step && step.hang && step.cut_after_chunks === undefined) { /* never answer */
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return undefined;
    }
    const delay = step && step.delay_ms !== undefined ? step.delay_ms : opt.delayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (res.destroyed) return undefined;
    const wantsStream = body !== null && typeof body === 'object' && body.stream === true;
    let ans = step ? stepAnswer(route, step, wantsStream) : null;
    if (!ans) ans = answerFor(route, req.method, url.pathname, headers, body, step, rid);
    return send(req, res, ans, step);
}

function handleControl(req, res, url, raw) {
    const reply = (status, obj) => {
        const b = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
        res.writeHead(status, { 'content-type': typeof obj === 'string' ? 'text/plain' : 'application/json', 'content-length': b.length });
        res.end(b);
    };
    const p = url.pathname;
    if (p === '/_health' && req.method === 'GET') return reply(200, 'ok');
    if (p === '/_requests' && req.method === 'GET') {
        const f = url.searchParams.get('path');
        return reply(200, f ? recorded.filter((r) => r.path.split('?')[0] === f) : recorded);
    }
    if (p === '/_requests' && req.method === 'DELETE') { recorded = []; return reply(200, { ok: true }); }
    if (p === '/_stats' && req.method === 'GET') return reply(200, stats);
    if (p === '/_stats' && req.method === 'DELETE') {
        stats.requests_total = 0;
        stats.max_inflight = stats.inflight;
        return reply(200, { ok: true });
    }
    if (p === '/_script' && req.method === 'GET') return reply(200, queues);
    if (p === '/_script' && req.method === 'DELETE') {
        for (const k of Object.keys(queues)) queues[k] = [];
        return reply(200, { ok: true });
    }
    if (p === '/_script' && req.method === 'POST') {
        let s;
        try {
            s = JSON.parse(raw);
            if (!s || !Object.hasOwn(queues, s.route)) throw new Error('route must be openai, anthropic or any');
            if (!Array.isArray(s.steps)) throw new Error('steps must be an array');
            s.steps.forEach(validateStep);
        } catch (e) {
            return reply(400, { error: String(e.message || e) });
        }
        for (const st of s.steps) {
            const { repeat, ...one } = st;
            for (let i = 0; i < (repeat ?? 1); i++) queues[s.route].push({ ...one });
        }
        return reply(200, { ok: true, pending: queues[s.route].length });
    }
    return reply(404, { error: `no control route ${req.method} ${p}` });
}

const MAX_BODY = 16 * 1024 * 1024;

const server = http.createServer({ keepAlive: true, noDelay: true, requestTimeout: 0, headersTimeout: 60000 }, (req, res) => {
    const url = new URL(req.url, 'http://fake');
    const bufs = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (b) => {
        size += b.length;
        if (size > MAX_BODY) tooBig = true;
        else bufs.push(b);
    });
    req.on('end', () => {
        if (tooBig) {
            res.writeHead(413, { 'content-type': 'application/json' });
            res.end(JSON.stringify(errorBody('openai', 413, 'request body too large')));
            return;
        }
        const raw = Buffer.concat(bufs).toString('utf8');
        const done = url.pathname.startsWith('/_') ? Promise.resolve(handleControl(req, res, url, raw))
            : handleProvider(req, res, url, raw);
        done.catch((e) => {
            process.stderr.write(`fake_llm: ${req.method} ${url.pathname}: ${e && e.stack ? e.stack : e}\n`);
            if (!res.headersSent) {
                res.writeHead(500, { 'content-type': 'application/json' });
                res.end(JSON.stringify(errorBody('openai', 500, `fake_llm internal error: ${e.message}`)));
            } else {
                res.destroy();
            }
        });
    });
    req.on('error', () => {});
});
server.maxConnections = 1000000;
server.maxHeadersCount = 0;
server.keepAliveTimeout = 30000;
server.timeout = 0;
server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
});

function shutdown() {
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
