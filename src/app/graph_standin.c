/*
 * app/graph_standin: a stand-in for Meta's Graph API inside the binary, for `direkt chat` and
 * bench/e2e: direkt is pointed at it with IG_GRAPH_URL and its sends land here instead of at
 * Meta. It answers like Meta does on success (shared/fixtures/instagram/send_response.json):
 *   POST /…/messages      a message: {"recipient_id", "message_id": "m_standin_<run>_<n>"}
 *                         (<run>: random per start, so that ids stay unique in a database);
 *                         a sender action: {"recipient_id"}
 *   POST /…/replies       a public comment reply: {"id": "standin_reply_<run>_<n>"}
 *   GET  /…               a small profile object for the last path segment
 * and hands every request to the caller's callback. It never fails a well-formed send and
 * checks no token: it is something to watch, not the tests' fake (tests/fake/fake_graph.mjs
 * replays Meta's errors).
 *
 * Design: the project's HTTP server with catch-all routes of one to six segments (the router
 * has no wildcard), so that any Graph path reaches one handler.
 */
#include "app/app.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "http/http.h"

#define MAX_BODY (1024u * 1024u)

struct app_standin {
    struct http_server *http;
    app_standin_fn fn;
    void *arg;
    char run[12]; /* random per start: ids stay unique in a database used by several runs */
    atomic_uint_fast64_t next_id;
};

int64_t app_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The last segment of a path ("/v25.0/123/messages" → "messages"), borrowed. */
static const char *last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Meta's error shape (instagram-platform.md §5) for a request the stand-in cannot answer. */
static json_t *graph_error(const char *message)
{
    return json_pack("{s:{s:s, s:s, s:i, s:s}}", "error", "message", message, "type",
                     "OAuthException", "code", 100, "fbtrace_id", "standin");
}

/* POST …/messages: a message or a sender action. */
static json_t *answer_send(struct app_standin *s, const char *body, size_t len, char *mid,
                           size_t mid_size, int *status)
{
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *rcpt = json_object_get(root, "recipient");
    const char *id = json_string_value(json_object_get(rcpt, "id"));
    if (id == NULL) {
        id = json_string_value(json_object_get(rcpt, "comment_id"));
    }
    json_t *out;
    if (id == NULL) {
        *status = 400;
        out = graph_error("(#100) The parameter recipient is required");
    } else if (json_object_get(root, "sender_action") != NULL) {
        out = json_pack("{s:s}", "recipient_id", id);
    } else {
        snprintf(mid, mid_size, "m_standin_%s_%llu", s->run,
                 (unsigned long long)atomic_fetch_add(&s->next_id, 1) + 1);
        out = json_pack("{s:s, s:s}", "recipient_id", id, "message_id", mid);
    }
    json_decref(root);
    return out;
}

/* GET …/<id>: the profile for messaging (shared/fixtures/instagram/profile.json's fields). */
static json_t *answer_profile(const char *id)
{
    char username[96];
    snprintf(username, sizeof(username), "customer_%.64s", id);
    return json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:s}", "name", "Chat Customer",
                     "username", username, "profile_pic", "https://example.invalid/profile.jpg",
                     "follower_count", 42, "is_user_follow_business", 1, "is_business_follow_user",
                     0, "is_verified_user", 0, "id", id);
}

static void on_request(struct http_req *req)
{
    struct app_standin *s = http_req_app(req);
    int64_t received = app_mono_us();
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    const char *path = http_req_path(req);
    const char *last = last_segment(path);
    char mid[48] = "";
    int status = 200;
    json_t *out;
    if (http_req_method(req) == HTTP_GET) {
        out = answer_profile(last);
    } else if (strcmp(last, "messages") == 0) {
        out = answer_send(s, body, len, mid, sizeof(mid), &status);
    } else if (strcmp(last, "replies") == 0) {
        snprintf(mid, sizeof(mid), "standin_reply_%s_%llu", s->run,
                 (unsigned long long)atomic_fetch_add(&s->next_id, 1) + 1);
        out = json_pack("{s:s}", "id", mid);
    } else {
        out = json_pack("{s:b}", "success", 1);
    }
    if (s->fn != NULL) {
        struct app_standin_req r = {.method = http_req_method(req) == HTTP_GET ? "GET" : "POST",
                                    .path = path,
                                    .body = body,
                                    .len = len,
                                    .recv_us = received,
                                    .message_id = mid[0] != '\0' ? mid : NULL};
        s->fn(s->arg, &r);
    }
    http_reply_json(req, status, out);
}

/* Any path of one to six segments, GET or POST (HEAD falls back to GET). */
static const struct http_route ROUTES[] = {
    {HTTP_POST, "/{a}", on_request, 0, MAX_BODY},
    {HTTP_POST, "/{a}/{b}", on_request, 0, MAX_BODY},
    {HTTP_POST, "/{a}/{b}/{c}", on_request, 0, MAX_BODY},
    {HTTP_POST, "/{a}/{b}/{c}/{d}", on_request, 0, MAX_BODY},
    {HTTP_POST, "/{a}/{b}/{c}/{d}/{e}", on_request, 0, MAX_BODY},
    {HTTP_POST, "/{a}/{b}/{c}/{d}/{e}/{f}", on_request, 0, MAX_BODY},
    {HTTP_GET, "/{a}", on_request, 0, 0},
    {HTTP_GET, "/{a}/{b}", on_request, 0, 0},
    {HTTP_GET, "/{a}/{b}/{c}", on_request, 0, 0},
    {HTTP_GET, "/{a}/{b}/{c}/{d}", on_request, 0, 0},
    {HTTP_GET, "/{a}/{b}/{c}/{d}/{e}", on_request, 0, 0},
    {HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}", on_request, 0, 0},
};

struct app_standin *app_standin_start(const char *listen, int threads, app_standin_fn fn, void *arg,
                                      struct dk_err *err)
{
    struct app_standin *s = dk_calloc(1, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->next_id, 0);
    unsigned char raw[4];
    dk_random_bytes(raw, sizeof(raw));
    snprintf(s->run, sizeof(s->run), "%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
    struct http_config hc = {.listen = listen, .threads = threads > 0 ? threads : 1, .app = s};
    if (http_server_start(&hc, ROUTES, sizeof(ROUTES) / sizeof(ROUTES[0]), &s->http, err) != 0) {
        dk_free(s);
        return NULL;
    }
    return s;
}

uint16_t app_standin_port(const struct app_standin *s)
{
    return http_server_port(s->http);
}

void app_standin_stop(struct app_standin *s)
{
    if (s == NULL) {
        return;
    }
    http_server_stop(s->http, 2000);
    dk_free(s);
}
