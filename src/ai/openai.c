/*
 * ai/openai: the OpenAI Chat Completions, Embeddings and Models wire format, also spoken by the
 * OpenAI-compatible local servers (Ollama, llama.cpp, vLLM, LM Studio). No I/O: bodies in,
 * bodies out.
 *
 * Requests are built with jansson. The flavor decides the two places where servers differ:
 * api.openai.com wants max_completion_tokens and honours "strict" structured output; the
 * compatible servers read max_tokens and only the schema.
 *
 * Responses are parsed defensively: a 2xx must be a JSON object with choices, else
 * AI_ERR_MALFORMED; error bodies come in four shapes: OpenAI's {"error":{message,type,param,
 * code:string|null}}, llama.cpp's and new vLLM's same object with an integer code, old vLLM's
 * flat {"object":"error",message,type,code}, and Ollama's {"error":"text"}; anything else (a
 * proxy's HTML page) keeps a short excerpt as the message. Classification follows the status
 * (llm-apis.md §3): 429 insufficient_quota is FATAL (billing: retrying cannot help), other
 * 429s, 408, 409 and 5xx RETRY, other 4xx FATAL.
 */
#include "ai/ai.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ai/ai_int.h"
#include "core/crypto.h"
#include "core/jsonh.h"
#include "core/mem.h"

#define MAX_EMBED_INPUTS 2048  /* OpenAI's limit per request */
#define MAX_EMBED_DIM    65536 /* far above any model's (3072 for text-embedding-3-large) */
#define MAX_MODELS       10000

/* ---- requests ---- */

/* Sets key to a string; false when s is not valid UTF-8 (jansson refuses it). */
static bool set_string(json_t *obj, const char *key, const char *s)
{
    json_t *v = json_string(s != NULL ? s : "");
    if (v == NULL) {
        return false;
    }
    json_object_set_new(obj, key, v);
    return true;
}

static json_t *messages_json(const struct ai_message *m, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *msg = json_object();
        json_array_append_new(arr, msg);
        if (!set_string(msg, "role", m[i].role != NULL ? m[i].role : "user") ||
            !set_string(msg, "content", m[i].content)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

char *ai_openai_chat_body(const struct ai_call_params *p)
{
    json_t *root = json_object();
    json_t *msgs = messages_json(p->messages, p->nmessages);
    json_t *schema = ai_wire_schema(p->json_schema);
    if (!set_string(root, "model", p->model) || msgs == NULL ||
        (p->json_schema != NULL && schema == NULL)) {
        json_decref(root);
        json_decref(msgs);
        json_decref(schema);
        return NULL;
    }
    json_object_set_new(root, "messages", msgs);
    bool openai = p->flavor == AI_FLAVOR_OPENAI;
    if (p->max_tokens > 0) {
        json_object_set_new(root, openai ? "max_completion_tokens" : "max_tokens",
                            json_integer(p->max_tokens));
    }
    if (p->temperature >= 0) {
        json_object_set_new(root, "temperature", json_real(p->temperature));
    }
    if (schema != NULL) {
        json_t *js = json_object();
        json_object_set_new(js, "name", json_string("result"));
        json_object_set_new(js, "schema", schema);
        if (openai) {
            json_object_set_new(js, "strict", json_true());
        }
        json_t *rf = json_object();
        json_object_set_new(rf, "type", json_string("json_schema"));
        json_object_set_new(rf, "json_schema", js);
        json_object_set_new(root, "response_format", rf);
    }
    json_object_set_new(root, "stream", json_boolean(p->stream));
    if (p->stream) {
        json_t *so = json_object();
        json_object_set_new(so, "include_usage", json_true());
        json_object_set_new(root, "stream_options", so);
    }
    char *body = dk_json_dump(root);
    json_decref(root);
    return body;
}

char *ai_openai_embeddings_body(const char *model, const char *const *inputs, size_t n)
{
    if (n == 0 || n > MAX_EMBED_INPUTS) {
        return NULL;
    }
    json_t *root = json_object();
    json_t *in = json_array();
    json_object_set_new(root, "input", in);
    bool ok = set_string(root, "model", model);
    for (size_t i = 0; ok && i < n; i++) {
        json_t *s = json_string(inputs[i] != NULL ? inputs[i] : "");
        ok = s != NULL;
        if (ok) {
            json_array_append_new(in, s);
        }
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    json_object_set_new(root, "encoding_format", json_string("float"));
    char *body = dk_json_dump(root);
    json_decref(root);
    return body;
}

/* ---- errors ---- */

static bool str_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

enum ai_outcome ai_openai_classify(int status, const char *type, const char *code)
{
    bool quota = str_is(type, "insufficient_quota") || str_is(code, "insufficient_quota") ||
                 str_is(code, "billing_hard_limit_reached");
    if (status == 429) {
        return quota ? AI_ERR_FATAL : AI_ERR_RETRY;
    }
    if (status == 408 || status == 409 || (status >= 500 && status <= 599)) {
        return AI_ERR_RETRY;
    }
    if (status != 0 && !(status >= 200 && status <= 299)) {
        return AI_ERR_FATAL; /* other 4xx, and 1xx/3xx that were not followed */
    }
    /* no status (mid-stream, or an error inside a 2xx): by what the error says */
    static const char *const FATAL_TYPES[] = {
        "invalid_request_error", "authentication_error",      "permission_error",
        "not_found_error",       "exceed_context_size_error", "not_supported_error",
        "invalid_api_key",       "context_length_exceeded",
    };
    if (quota) {
        return AI_ERR_FATAL;
    }
    for (size_t i = 0; i < sizeof(FATAL_TYPES) / sizeof(FATAL_TYPES[0]); i++) {
        if (str_is(type, FATAL_TYPES[i]) || str_is(code, FATAL_TYPES[i])) {
            return AI_ERR_FATAL;
        }
    }
    return AI_ERR_RETRY; /* server_error, unavailable_error, rate limits, unknown failures */
}

void ai_openai_error_fill(const json_t *err, int status, struct ai_reply *out)
{
    const char *msg = NULL, *type = NULL, *code = NULL;
    if (json_is_string(err)) {
        msg = json_string_value(err); /* Ollama */
    } else if (json_is_object(err)) {
        msg = dk_json_str(err, "message");
        type = dk_json_str(err, "type");
        json_t *c = json_object_get(err, "code");
        if (json_is_string(c)) {
            code = json_string_value(c);
        } else if (json_is_integer(c)) {
            /* llama.cpp, vLLM: the HTTP status; in a stream it is the only status there is */
            json_int_t v = json_integer_value(c);
            if (status == 0 && v >= 100 && v <= 599) {
                status = (int)v;
            }
        }
    }
    out->outcome = ai_openai_classify(status, type, code);
    /* the string code is the precise one ("rate_limit_exceeded" under type "tokens") */
    ai_wire_copy(out->error_type, sizeof(out->error_type), code != NULL ? code : type);
    if (msg != NULL && *msg != '\0') {
        ai_wire_copy(out->error, sizeof(out->error), msg);
    } else if (out->error_type[0] != '\0') {
        ai_wire_copy(out->error, sizeof(out->error), out->error_type);
    } else {
        snprintf(out->error, sizeof(out->error), "provider error (HTTP %d)", status);
    }
}

/* An error response: one of the known shapes, else the status alone. */
static void error_response(int status, const json_t *j, const char *body, size_t len,
                           struct ai_reply *out)
{
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e) || json_is_string(e)) {
        ai_openai_error_fill(e, status, out);
    } else if (str_is(dk_json_str(j, "object"), "error")) {
        ai_openai_error_fill(j, status, out); /* old vLLM: the error fields at the top */
    } else {
        ai_wire_error_body(status, body, len, out);
    }
}

/* ---- chat responses ---- */

static void parse_success(const json_t *j, struct ai_reply *out)
{
    json_t *choices = json_object_get(j, "choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        ai_wire_malformed(out, "response has no choices");
        return;
    }
    json_t *c = json_array_get(choices, 0);
    json_t *msg = json_object_get(c, "message");
    if (!json_is_object(msg)) {
        ai_wire_malformed(out, "choice has no message");
        return;
    }
    json_t *content = json_object_get(msg, "content");
    if (content != NULL && !json_is_null(content) && !json_is_string(content)) {
        ai_wire_malformed(out, "message content is not a string");
        return;
    }
    /* content null: a tool call or a refusal; the text is then empty */
    const char *s = json_is_string(content) ? json_string_value(content) : "";
    size_t n = json_is_string(content) ? json_string_length(content) : 0;
    if (!ai_wire_set_text(out, s, n)) {
        return;
    }
    ai_wire_copy_field(out->finish, sizeof(out->finish), c, "finish_reason");
    ai_wire_copy_field(out->id, sizeof(out->id), j, "id");
    ai_wire_copy_field(out->model, sizeof(out->model), j, "model");
    json_t *usage = json_object_get(j, "usage");
    out->usage.input_tokens = ai_wire_tokens(usage, "prompt_tokens");
    out->usage.output_tokens = ai_wire_tokens(usage, "completion_tokens");
    out->outcome = AI_OK;
}

void ai_openai_parse(int status, const char *body, size_t len, const char *retry_after,
                     struct ai_reply *out)
{
    ai_wire_reply_init(out, status, retry_after);
    struct dk_err err;
    json_t *j = body != NULL ? dk_json_parse(body, len, AI_WIRE_MAX_DEPTH, &err) : NULL;
    if (status < 200 || status > 299) {
        error_response(status, j, body, len, out);
    } else if (j == NULL) {
        ai_wire_malformed(out, body != NULL ? err.msg : "empty body");
    } else if (!json_is_object(j)) {
        ai_wire_malformed(out, "response is not a JSON object");
    } else {
        json_t *e = json_object_get(j, "error");
        if (e != NULL && !json_is_null(e)) {
            ai_openai_error_fill(e, 0, out); /* some servers answer 200 with an error */
        } else {
            parse_success(j, out);
        }
    }
    json_decref(j);
}

/* ---- embeddings ---- */

/* One vector into dst[dim] (dim fixed by the first one when *dim is 0). */
static const char *read_vector(const json_t *e, float **vecs, size_t count, size_t idx, size_t *dim)
{
    size_t d;
    unsigned char *raw = NULL;
    if (json_is_array(e)) {
        d = json_array_size(e);
    } else if (json_is_string(e)) {
        size_t rawlen = 0;
        raw = dk_base64_decode(json_string_value(e), &rawlen);
        if (raw == NULL || rawlen % 4 != 0) {
            dk_free(raw);
            return "embedding is not base64 of float32 values";
        }
        d = rawlen / 4;
    } else {
        return "embedding is neither an array nor a base64 string";
    }
    if (d == 0 || d > MAX_EMBED_DIM || (*dim != 0 && d != *dim)) {
        dk_free(raw);
        return "embeddings of different or unusable dimensions";
    }
    if (*vecs == NULL) {
        *dim = d;
        *vecs = dk_calloc(count * d, sizeof(float));
    }
    float *dst = *vecs + idx * d;
    for (size_t i = 0; i < d; i++) {
        float f;
        if (raw != NULL) {
            uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                         (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
            memcpy(&f, &u, sizeof(f));
        } else {
            json_t *v = json_array_get(e, i);
            if (!json_is_number(v)) {
                return "embedding holds a value that is not a number";
            }
            f = (float)json_number_value(v);
        }
        if (!isfinite(f)) {
            dk_free(raw);
            return "embedding holds a value that is not finite";
        }
        dst[i] = f;
    }
    dk_free(raw);
    return NULL;
}

static const char *read_embeddings(const json_t *j, float **vecs, size_t *n, size_t *dim)
{
    json_t *data = json_object_get(j, "data");
    size_t count = json_array_size(data);
    if (!json_is_array(data) || count == 0 || count > MAX_EMBED_INPUTS) {
        return "response has no embeddings";
    }
    bool *seen = dk_calloc(count, sizeof(bool));
    const char *why = NULL;
    for (size_t i = 0; why == NULL && i < count; i++) {
        json_t *item = json_array_get(data, i);
        int64_t idx = (int64_t)i; /* servers that omit index list them in order */
        if (json_object_get(item, "index") != NULL && !dk_json_int(item, "index", &idx)) {
            idx = -1;
        }
        if (idx < 0 || (size_t)idx >= count || seen[idx]) {
            why = "embedding indexes are not 0..n-1";
            break;
        }
        seen[idx] = true;
        why = read_vector(json_object_get(item, "embedding"), vecs, count, (size_t)idx, dim);
    }
    dk_free(seen);
    if (why == NULL) {
        *n = count;
    }
    return why;
}

int ai_openai_parse_embeddings(int status, const char *body, size_t len, float **vecs, size_t *n,
                               size_t *dim, struct ai_usage *usage, struct ai_reply *err_out)
{
    *vecs = NULL;
    *n = 0;
    *dim = 0;
    if (usage != NULL) {
        memset(usage, 0, sizeof(*usage));
    }
    struct ai_reply local;
    struct ai_reply *r = err_out != NULL ? err_out : &local;
    if (status < 200 || status > 299) {
        ai_openai_parse(status, body, len, NULL, r);
        if (r == &local) {
            ai_reply_clear(&local);
        }
        return DK_EIO;
    }
    ai_wire_reply_init(r, status, NULL);
    struct dk_err err;
    json_t *j = body != NULL ? dk_json_parse(body, len, AI_WIRE_MAX_DEPTH, &err) : NULL;
    const char *why = j == NULL            ? (body != NULL ? err.msg : "empty body")
                      : !json_is_object(j) ? "response is not a JSON object"
                                           : read_embeddings(j, vecs, n, dim);
    if (why == NULL && usage != NULL) {
        usage->input_tokens = ai_wire_tokens(json_object_get(j, "usage"), "prompt_tokens");
    }
    if (why != NULL) {
        ai_wire_malformed(r, why);
        dk_free(*vecs);
        *vecs = NULL;
        *n = 0;
        *dim = 0;
    }
    json_decref(j);
    if (r == &local) {
        ai_reply_clear(&local);
    }
    return why == NULL ? 0 : DK_EINVAL;
}

/* ---- model lists ---- */

json_t *ai_models_parse(enum ai_wire w, const char *body, size_t len, struct dk_err *err)
{
    const char *who = w == AI_WIRE_ANTHROPIC ? "anthropic" : "openai";
    json_t *j = body != NULL ? dk_json_parse(body, len, AI_WIRE_MAX_DEPTH, err) : NULL;
    if (j == NULL) {
        if (body == NULL) {
            dk_err_set(err, DK_EINVAL, "%s model list: empty body", who);
        }
        return NULL;
    }
    json_t *data = json_object_get(j, "data");
    if (!json_is_array(data) || json_array_size(data) > MAX_MODELS) {
        dk_err_set(err, DK_EINVAL, "%s model list: no \"data\" array of at most %d models", who,
                   MAX_MODELS);
        json_decref(j);
        return NULL;
    }
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m)
    {
        const char *id = dk_json_str(m, "id");
        if (id == NULL || *id == '\0') {
            dk_err_set(err, DK_EINVAL, "%s model list: model %zu has no id", who, i);
            json_decref(ids);
            json_decref(j);
            return NULL;
        }
        json_array_append_new(ids, json_string(id));
    }
    json_decref(j);
    return ids;
}
