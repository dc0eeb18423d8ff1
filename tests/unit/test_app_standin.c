/* Unit tests of app/graph_standin: the Graph API stand-in answers direkt's requests in Meta's
 * success shapes, over keep-alive, and reports each request to its callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "httpc.h"
#include "instagram/graph.h"

#define MAX_SEEN 16

struct seen {
    pthread_mutex_t mu;
    int n;
    char path[MAX_SEEN][128];
    char body[MAX_SEEN][512];
    char mid[MAX_SEEN][48];
    int64_t recv_us[MAX_SEEN];
};

static void on_req(void *arg, const struct app_standin_req *r)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_SEEN) {
        snprintf(s->path[s->n], sizeof(s->path[0]), "%s %s", r->method, r->path);
        snprintf(s->body[s->n], sizeof(s->body[0]), "%.*s", (int)r->len, r->body);
        snprintf(s->mid[s->n], sizeof(s->mid[0]), "%s", r->message_id ? r->message_id : "");
        s->recv_us[s->n] = r->recv_us;
    }
    s->n++;
    pthread_mutex_unlock(&s->mu);
}

struct fixture {
    struct seen seen;
    struct app_standin *st;
    struct ig_graph g;
    char base[64];
};

static int setup(void **state)
{
    struct fixture *f = dk_calloc(1, sizeof(*f));
    pthread_mutex_init(&f->seen.mu, NULL);
    struct dk_err err = {0};
    f->st = app_standin_start("127.0.0.1:0", 2, on_req, &f->seen, &err);
    assert_non_null(f->st);
    httpc_port = app_standin_port(f->st);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)httpc_port);
    f->g = (struct ig_graph){.base_url = f->base,
                             .version = IG_DEFAULT_VERSION,
                             .account_id = "17841405822304914",
                             .token = "demo-token"};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    app_standin_stop(f->st);
    pthread_mutex_destroy(&f->seen.mu);
    dk_free(f);
    return 0;
}

/* Sends a request built by graph.c (the path after the base URL) on c; returns the body. */
static json_t *call(CURL *c, const struct fixture *f, const struct ig_request *rq, long *status)
{
    struct httpc_call hc = {.method = rq->method,
                            .path = rq->url + strlen(f->base),
                            .headers = {rq->auth_header, "Content-Type: application/json"},
                            .body = rq->body};
    struct httpc_resp r;
    httpc_perform_on(c, &hc, &r);
    *status = r.status;
    json_t *j = dk_json_parse(r.body.data != NULL ? r.body.data : "", r.body.len, 8, NULL);
    httpc_resp_free(&r);
    return j;
}

static void test_app_standin_answers_sends_like_meta(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct ig_request rq = {0};
    long status = 0;
    struct ig_outgoing m = {.recipient_id = "1327813061483247", .text = "Hello from the bot"};
    assert_int_equal(ig_build_send(&f->g, &m, &rq, NULL), 0);
    int64_t before = app_mono_us();
    json_t *j = call(c, f, &rq, &status);
    ig_request_clear(&rq);
    assert_int_equal(status, 200);
    assert_string_equal(dk_json_str(j, "recipient_id"), "1327813061483247");
    char first[48];
    assert_non_null(dk_json_str(j, "message_id"));
    snprintf(first, sizeof(first), "%s", dk_json_str(j, "message_id"));
    assert_int_equal(strncmp(first, "m_standin_", 10), 0);
    assert_int_equal(strcmp(first + strlen(first) - 2, "_1"), 0);
    char run[32];
    snprintf(run, sizeof(run), "%.*s", (int)(strlen(first) - 2), first); /* m_standin_<run> */
    /* what direkt makes of it: a sent message with that id */
    char *text = dk_json_dump(j);
    struct ig_result res;
    ig_parse_result(200, text, strlen(text), &res);
    assert_int_equal(res.outcome, IG_OK);
    assert_string_equal(res.message_id, first);
    dk_free(text);
    json_decref(j);

    /* a sender action: no message id */
    assert_int_equal(ig_build_sender_action(&f->g, "1327813061483247", "typing_on", &rq, NULL), 0);
    j = call(c, f, &rq, &status);
    ig_request_clear(&rq);
    assert_int_equal(status, 200);
    assert_string_equal(dk_json_str(j, "recipient_id"), "1327813061483247");
    assert_null(json_object_get(j, "message_id"));
    json_decref(j);

    /* the next message gets the next id; the connection was kept */
    m.text = "Second";
    assert_int_equal(ig_build_send(&f->g, &m, &rq, NULL), 0);
    struct httpc_call hc = {.method = "POST",
                            .path = rq.url + strlen(f->base),
                            .headers = {"Content-Type: application/json"},
                            .body = rq.body};
    struct httpc_resp r;
    httpc_perform_on(c, &hc, &r);
    ig_request_clear(&rq);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    char second[48], quoted[52];
    snprintf(second, sizeof(second), "%s_2", run);
    snprintf(quoted, sizeof(quoted), "\"%s\"", second);
    assert_non_null(strstr(r.body.data, quoted));
    httpc_resp_free(&r);
    curl_easy_cleanup(c);

    /* every request reached the callback, in order, with its path, body and time */
    struct seen *s = &f->seen;
    pthread_mutex_lock(&s->mu);
    assert_int_equal(s->n, 3);
    assert_string_equal(s->path[0], "POST /v25.0/17841405822304914/messages");
    assert_non_null(strstr(s->body[0], "Hello from the bot"));
    assert_int_equal(strncmp(s->mid[0], run, strlen(run)), 0);
    assert_true(s->recv_us[0] >= before && s->recv_us[0] <= app_mono_us());
    assert_non_null(strstr(s->body[1], "typing_on"));
    assert_string_equal(s->mid[1], "");
    assert_string_equal(s->mid[2], second);
    assert_true(s->recv_us[2] >= s->recv_us[1]);
    pthread_mutex_unlock(&s->mu);
}

static void test_app_standin_profiles_replies_and_errors(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct ig_request rq = {0};
    long status = 0;
    assert_int_equal(ig_build_profile(&f->g, "5981206525237013", &rq, NULL), 0);
    json_t *j = call(c, f, &rq, &status);
    ig_request_clear(&rq);
    assert_int_equal(status, 200);
    json_t *profile = NULL;
    char *text = dk_json_dump(j);
    assert_int_equal(ig_parse_profile(text, strlen(text), &profile, NULL), 0);
    assert_string_equal(dk_json_str(profile, "username"), "customer_5981206525237013");
    assert_true(json_is_integer(json_object_get(profile, "follower_count")));
    json_decref(profile);
    dk_free(text);
    json_decref(j);

    assert_int_equal(ig_build_comment_reply(&f->g, "17858893269000001", "Thanks!", &rq, NULL), 0);
    j = call(c, f, &rq, &status);
    ig_request_clear(&rq);
    assert_int_equal(status, 200);
    assert_non_null(strstr(dk_json_str(j, "id"), "standin_reply_"));
    json_decref(j);

    /* a send without a recipient: Meta's error shape, and still reported */
    struct httpc_call hc = {.method = "POST",
                            .path = "/v25.0/1/messages",
                            .headers = {"Content-Type: application/json"},
                            .body = "{\"message\":{\"text\":\"x\"}}"};
    struct httpc_resp r;
    httpc_perform_on(c, &hc, &r);
    assert_int_equal(r.status, 400);
    struct ig_result res;
    ig_parse_result((int)r.status, r.body.data, r.body.len, &res);
    assert_int_equal(res.code, 100);
    httpc_resp_free(&r);
    curl_easy_cleanup(c);
    pthread_mutex_lock(&f->seen.mu);
    assert_int_equal(f->seen.n, 3);
    assert_string_equal(f->seen.path[2], "POST /v25.0/1/messages");
    pthread_mutex_unlock(&f->seen.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_app_standin_answers_sends_like_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_standin_profiles_replies_and_errors, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
