#!/usr/bin/env node
/*
 * openai_client.mjs: drives direkt's OpenAI-compatible endpoint with the official `openai` npm
 * SDK (pinned in package.json; install with tests/support/npm-install), as a third-party
 * client would. Prints ONE JSON object on stdout:
 *
 *   {"chat":   {"content", "model", "usage", "finish_reason"},
 *    "stream": {"content", "finished", "finish_reason", "chunks", "usage", "error"},
 *    "models": {"ids": [...]},
 *    "error":  {"thrown", "status", "message", "type", "code", "body_message"}}
 *
 * (a) a non-stream chat completion, (b) a streamed one (deltas concatenated; "finished" is true
 * when the SDK's iteration ended normally after a chunk with a finish_reason; a stream that
 * breaks after HTTP 200 gives "finished": false and its "error" text), (c)
 * models.list(), (d) a completion with model "no-such-model" (the caught APIError's status and
 * message; "thrown": false if none was raised). Exits 1 (message on stderr) on any other
 * exception, e.g. a connection error or an error in (a)–(c).
 *
 * Environment: DIREKT_URL (e.g. http://127.0.0.1:8080), DIREKT_TOKEN (the API token),
 * MODEL (default "local"), PROMPT (default "Hello from the openai SDK"), DIREKT_AI_PATH (default
 * "/api/v1/ai"; "/v1" to aim at tests/fake/fake_llm.mjs), TIMEOUT_MS (default 30000),
 * MAX_RETRIES (default 0, so a failure shows at once instead of after SDK back-off).
 */
import OpenAI from 'openai';

function env(name, dflt) {
    const v = process.env[name];
    if (v === undefined || v === '') {
        if (dflt === undefined) {
            process.stderr.write(`openai_client: ${name} must be set\n`);
            process.exit(1);
        }
        return dflt;
    }
    return v;
}

const url = env('DIREKT_URL').replace(/\/+$/, '');
const client = new OpenAI({
    apiKey: env('DIREKT_TOKEN'),
    baseURL: url + env('DIREKT_AI_PATH', '/api/v1/ai'),
    timeout: Number(env('TIMEOUT_MS', '30000')),
    maxRetries: Number(env('MAX_RETRIES', '0')),
});
const model = env('MODEL', 'local');
const prompt = env('PROMPT', 'Hello from the openai SDK');
const messages = [{ role: 'user', content: prompt }];

async function main() {
    const out = {};

    const c = await client.chat.completions.create({ model, messages });
    out.chat = {
        content: c.choices[0]?.message?.content ?? null,
        model: c.model,
        usage: c.usage ?? null,
        finish_reason: c.choices[0]?.finish_reason ?? null,
    };

    const stream = await client.chat.completions.create({
        model, messages, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let finish = null;
    let chunks = 0;
    let usage = null;
    let broke = null;
    try {
        for await (const chunk of stream) {
            chunks++;
            if (chunk.usage) usage = chunk.usage;
            for (const ch of chunk.choices ?? []) { /* the usage chunk has choices: [] */
                if (typeof ch.delta?.content === 'string') text += ch.delta.content;
                if (ch.finish_reason) finish = ch.finish_reason;
            }
        }
    } catch (e) {
        broke = String(e?.message ?? e); /* a stream cut or failing after HTTP 200 */
    }
    out.stream = {
        content: text, finished: broke === null && finish !== null, finish_reason: finish, chunks, usage, error: broke,
    };

    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    out.models = { ids };

    try {
        await client.chat.completions.create({ model: 'no-such-model', messages });
        out.error = { thrown: false, status: null, message: null, type: null, code: null, body_message: null };
    } catch (e) {
        if (!(e instanceof OpenAI.APIError) || e instanceof OpenAI.APIConnectionError) throw e;
        out.error = {
            thrown: true,
            status: e.status ?? null,
            message: e.message,
            type: e.type ?? null,
            code: e.code ?? null,
            body_message: e.error?.message ?? null,
        };
    }

    process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
    process.stderr.write(`openai_client: unexpected ${e?.constructor?.name ?? 'error'}: ${e?.stack ?? e}\n`);
    process.exit(1);
});
