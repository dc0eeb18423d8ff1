/*
 * ai/anthropic: the Anthropic Messages wire format (llm-apis.md §4). No I/O.
 *
 * Requests: Messages has no system role, so system messages go to the top-level "system"
 * (joined by blank lines); turns of the same role in a row are merged into one, as the API
 * would do anyway, and empty turns are dropped (the API rejects empty text). max_tokens is
 * required: 1024 when the caller has no opinion. Structured output goes in
 * output_config.format. Temperature is clamped to Anthropic's 0..1.
 *
 * Responses: the text blocks of content, concatenated (tool_use and thinking blocks carry no
 * answer text); usage input/output tokens; stop_reason as finish. Errors are classified by
 * their type first, which Anthropic keeps precise, and by status for unknown types; a 429 for
 * the monthly spend limit without Retry-After and anything marked x-should-retry: false are
 * FATAL.
 */
#include "ai/ai.h"

#include <stdio.h>
#include <string.h>

#include "ai/ai_int.h"
#include "core/jsonh.h"
#include "core/mem.h"

#define DEFAULT_MAX_TOKENS 1024
#define MAX_REQUEST_TEXT   (64u << 20) /* merged turns and the system prompt */

/* ---- requests ---- */

static bool is_system(const char *role)
{
    return role != NULL && (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0);
}

static const char *turn_role(const char *role)
{
    return role != NULL && strcmp(role, "assistant") == 0 ? "assistant" : "user";
}

/* Appends text to b, a blank line first when b already holds some. */
static int join(struct dk_buf *b, const char *text)
{
    if (text == NULL || *text == '\0') {
        return 0;
    }
    int rc = b->len > 0 ? dk_buf_append(b, "\n\n", 2) : 0;
    return rc == 0 ? dk_buf_puts(b, text) : rc;
}

/* Closes the turn gathered in b (role) into msgs; false when its text is not UTF-8. */
static bool close_turn(json_t *msgs, const char *role, struct dk_buf *b)
{
    if (role == NULL || b->len == 0) {
        return true;
    }
    json_t *content = json_stringn(b->data, b->len);
    dk_buf_reset(b);
    if (content == NULL) {
        return false;
    }
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string(role));
    json_object_set_new(m, "content", content);
    json_array_append_new(msgs, m);
    return true;
}

/* The system text and the merged turns; false on invalid UTF-8 or oversized text. */
static bool build_turns(const struct ai_call_params *p, json_t *root)
{
    struct dk_buf sys, turn;
    dk_buf_init(&sys, MAX_REQUEST_TEXT);
    dk_buf_init(&turn, MAX_REQUEST_TEXT);
    json_t *msgs = json_array();
    json_object_set_new(root, "messages", msgs);
    const char *role = NULL;
    bool ok = true;
    for (size_t i = 0; ok && i < p->nmessages; i++) {
        const struct ai_message *m = &p->messages[i];
        if (is_system(m->role)) {
            ok = join(&sys, m->content) == 0;
            continue;
        }
        if (m->content == NULL || *m->content == '\0') {
            continue;
        }
        const char *r = turn_role(m->role);
        if (role != NULL && strcmp(role, r) != 0) {
            ok = close_turn(msgs, role, &turn);
        }
        role = r;
        ok = ok && join(&turn, m->content) == 0;
    }
    ok = ok && close_turn(msgs, role, &turn);
    if (ok && sys.len > 0) {
        json_t *s = json_stringn(sys.data, sys.len);
        ok = s != NULL;
        json_object_set_new(root, "system", s);
    }
    dk_buf_free(&sys);
    dk_buf_free(&turn);
    return ok;
}

char *ai_anthropic_body(const struct ai_call_params *p)
{
    json_t *root = json_object();
    json_t *model = json_string(p->model != NULL ? p->model : "");
    json_t *schema = ai_wire_schema(p->json_schema);
    if (model == NULL || (p->json_schema != NULL && schema == NULL)) {
        json_decref(model);
        json_decref(schema);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(root, "model", model);
    json_object_set_new(root, "max_tokens",
                        json_integer(p->max_tokens > 0 ? p->max_tokens : DEFAULT_MAX_TOKENS));
    if (!build_turns(p, root)) {
        json_decref(schema);
        json_decref(root);
        return NULL;
    }
    if (p->temperature >= 0) {
        json_object_set_new(root, "temperature",
                            json_real(p->temperature > 1.0 ? 1.0 : p->temperature));
    }
    if (schema != NULL) {
        json_t *fmt = json_object();
        json_object_set_new(fmt, "type", json_string("json_schema"));
        json_object_set_new(fmt, "schema", schema);
        json_t *oc = json_object();
        json_object_set_new(oc, "format", fmt);
        json_object_set_new(root, "output_config", oc);
    }
    json_object_set_new(root, "stream", json_boolean(p->stream));
    char *body = dk_json_dump(root);
    json_decref(root);
    return body;
}

/* ---- errors ---- */

static bool str_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcmp(s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

enum ai_outcome ai_anthropic_classify(int status, const char *type, bool has_retry_after,
                                      const char *should_retry, const char *detail_code)
{
    static const char *const RETRY_TYPES[] = {
        "rate_limit_error", "overloaded_error", "api_error", "timeout_error", "conflict_error",
    };
    static const char *const FATAL_TYPES[] = {
        "invalid_request_error", "authentication_error", "permission_error",
        "not_found_error",       "billing_error",        "request_too_large",
    };
    enum ai_outcome o;
    if (detail_code != NULL && strcmp(detail_code, "enforced_spend_limit_reached") == 0 &&
        !has_retry_after) {
        o = AI_ERR_FATAL; /* the monthly cap: waiting minutes will not lift it */
    } else if (str_in(type, RETRY_TYPES, sizeof(RETRY_TYPES) / sizeof(RETRY_TYPES[0]))) {
        o = AI_ERR_RETRY;
    } else if (str_in(type, FATAL_TYPES, sizeof(FATAL_TYPES) / sizeof(FATAL_TYPES[0]))) {
        o = AI_ERR_FATAL;
    } else if (status == 0 || status == 408 || status == 409 || status == 429 ||
               (status >= 500 && status <= 599)) {
        o = AI_ERR_RETRY; /* 529 included; in a stream an unknown failure is the server's */
    } else {
        o = AI_ERR_FATAL;
    }
    if (should_retry != NULL && strcmp(should_retry, "false") == 0) {
        o = AI_ERR_FATAL;
    }
    return o;
}

/* Fills out from an error object {"type","message","details":{"error_code"}}. */
static void error_fill(const json_t *e, int status, const char *should_retry, struct ai_reply *out)
{
    const char *type = dk_json_str(e, "type");
    const char *msg = dk_json_str(e, "message");
    const char *detail = dk_json_str(json_object_get(e, "details"), "error_code");
    out->outcome =
        ai_anthropic_classify(status, type, out->retry_after_ms >= 0, should_retry, detail);
    ai_wire_copy(out->error_type, sizeof(out->error_type), type);
    if (msg != NULL && *msg != '\0') {
        ai_wire_copy(out->error, sizeof(out->error), msg);
    } else if (type != NULL) {
        ai_wire_copy(out->error, sizeof(out->error), type);
    } else {
        snprintf(out->error, sizeof(out->error), "provider error (HTTP %d)", status);
    }
}

/* ---- responses ---- */

static void parse_success(const json_t *j, struct ai_reply *out)
{
    json_t *content = json_object_get(j, "content");
    if (!json_is_array(content)) {
        ai_wire_malformed(out, "message has no content array");
        return;
    }
    struct dk_buf text;
    dk_buf_init(&text, AI_WIRE_MAX_TEXT);
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block)
    {
        const char *type = dk_json_str(block, "type");
        json_t *t = json_object_get(block, "text");
        if (type == NULL || strcmp(type, "text") != 0) {
            continue;
        }
        if (!json_is_string(t)) {
            dk_buf_free(&text);
            ai_wire_malformed(out, "text block without text");
            return;
        }
        if (dk_buf_append(&text, json_string_value(t), json_string_length(t)) != 0) {
            dk_buf_free(&text);
            ai_wire_malformed(out, "answer text over 1 MiB");
            return;
        }
    }
    bool ok = ai_wire_set_text(out, text.data != NULL ? text.data : "", text.len);
    dk_buf_free(&text);
    if (!ok) {
        return;
    }
    ai_wire_copy_field(out->finish, sizeof(out->finish), j, "stop_reason");
    ai_wire_copy_field(out->id, sizeof(out->id), j, "id");
    ai_wire_copy_field(out->model, sizeof(out->model), j, "model");
    json_t *usage = json_object_get(j, "usage");
    out->usage.input_tokens = ai_wire_tokens(usage, "input_tokens");
    out->usage.output_tokens = ai_wire_tokens(usage, "output_tokens");
    out->outcome = AI_OK;
}

void ai_anthropic_parse(int status, const char *body, size_t len, const char *retry_after,
                        const char *should_retry, struct ai_reply *out)
{
    ai_wire_reply_init(out, status, retry_after);
    struct dk_err err;
    json_t *j = body != NULL ? dk_json_parse(body, len, AI_WIRE_MAX_DEPTH, &err) : NULL;
    json_t *e = json_object_get(j, "error");
    if (status < 200 || status > 299) {
        if (json_is_object(e)) {
            error_fill(e, status, should_retry, out);
        } else {
            ai_wire_error_body(status, body, len, out);
            if (should_retry != NULL && strcmp(should_retry, "false") == 0) {
                out->outcome = AI_ERR_FATAL;
            }
        }
    } else if (j == NULL) {
        ai_wire_malformed(out, body != NULL ? err.msg : "empty body");
    } else if (!json_is_object(j)) {
        ai_wire_malformed(out, "response is not a JSON object");
    } else if (json_is_object(e)) {
        error_fill(e, 0, should_retry, out);
    } else {
        parse_success(j, out);
    }
    json_decref(j);
}
