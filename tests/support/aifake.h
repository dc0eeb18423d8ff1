/*
 * aifake: an in-process fake LLM provider for unit tests of the ai router, and helpers to run
 * router calls against it. A libmicrohttpd server on 127.0.0.1:0 answers from a script of
 * canned responses (the files of $DIREKT_FIXTURES/llm or inline bodies, with a status, a
 * Retry-After, a delay, or a body cut short by a broken connection) and records every request
 * (path, headers, body). One ai_http loop serves the program. Test code only: failures abort
 * the test through cmocka; the functions are for the test's main thread unless noted.
 */
#ifndef AIFAKE_H
#define AIFAKE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ai/ai.h"
#include "core/mem.h"

#define AIFAKE_CHAT     "/v1/chat/completions"     /* openai's */
#define AIFAKE_MESSAGES "/v1/messages"             /* anthropic's */
#define AIFAKE_LLM_CHAT "/llm/v1/chat/completions" /* local_llm's */
#define AIFAKE_EMBED    "/v1/embeddings"

/* One canned answer. Fields left 0 mean: any path, no Retry-After, at once, whole, once. */
struct aifake_canned {
    const char *path;        /* answers requests to this path only (NULL: any) */
    int status;              /* 0 ends a script given as a table */
    const char *file;        /* a fixture of $DIREKT_FIXTURES/llm, or NULL: body */
    const char *body;        /* copied by aifake_script */
    const char *retry_after; /* a Retry-After header */
    int64_t delay_ms;        /* answer after this long (the connection is parked meanwhile) */
    size_t cut;              /* > 0: send this many body bytes, then break the connection */
    int times;               /* how many requests it answers (0: one) */
};

/* A request the fake received. */
struct aifake_seen {
    char path[128], auth[256], api_key[128], version[64], ctype[64];
    int64_t at;   /* dk_mono_ms() when its body was in */
    char *body;   /* NUL-terminated */
    json_t *json; /* the body parsed, NULL when it is not JSON */
};

/* Starts the fake server and the ai_http loop; 0 or -1. For a cmocka group setup. */
int aifake_start(void);
/* Stops both (parked answers are released first). */
void aifake_stop(void);
struct ai_http *aifake_http(void);
/* Whether the HTTP loop has nothing in flight, waiting up to 2 s (the count drops just after
 * each request's on_done returns, so just after a router call's done). */
bool aifake_http_idle(void);
uint16_t aifake_port(void);

/* Replaces the script with n entries (n 0: none; c may then be NULL) and forgets the requests
 * seen so far. Requests the script has no answer for get a 500 and count as unexpected. */
void aifake_script(const struct aifake_canned *c, size_t n);
/* Requests received since the last aifake_script. Any thread. */
size_t aifake_nseen(void);
/* The i-th request (fails the test when there is none). */
const struct aifake_seen *aifake_seen(size_t i);
json_t *aifake_seen_json(size_t i);
/* The i-th request body's string member key, "(none)" when absent. */
const char *aifake_seen_str(size_t i, const char *key);
/* Waits (at most 10 s) until n requests were received. */
void aifake_wait_seen(size_t n);
/* Asserts the paths of the requests received, comma separated, and that none was
 * unexpected. */
void aifake_assert_paths(const char *want);
/* A fixture of $DIREKT_FIXTURES/llm, NUL-terminated (dk_free). */
char *aifake_fixture(const char *name, size_t *len);

/* ---- router calls ---- */

/* Collects one call: its result, its deltas. */
struct aifake_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dones;
    struct ai_result *res; /* owned */
    struct dk_buf deltas;
    int ndeltas;
    int stop_after; /* > 0: the delta callback asks to stop after this many */
    bool off_loop;  /* a callback ran off the loop thread */
};
void aifake_waiter_init(struct aifake_waiter *w);
void aifake_waiter_free(struct aifake_waiter *w);
/* The router's callbacks, with a waiter as arg. */
void aifake_on_done(void *arg, struct ai_result *res);
int aifake_on_delta(void *arg, const char *text, size_t len);
/* The result once done was called (within ms; fails the test otherwise, or when done ran more
 * than once or off the loop thread). Owned by w. */
struct ai_result *aifake_wait(struct aifake_waiter *w, int64_t ms);
/* The deltas received so far, NUL-terminated (after aifake_wait). */
const char *aifake_deltas(const struct aifake_waiter *w);
/* Resets w, submits req with both callbacks and waits (20 s) for the result (owned by w). */
struct ai_result *aifake_run(struct ai_router *r, const struct ai_request *req,
                             struct aifake_waiter *w);

/* A reply request: a system and a user message, temperature default. */
struct ai_request aifake_request(void);
/* Defaults plus openai (key sk-test, model gpt-test), anthropic (ak-test, claude-test) and,
 * with local_llm, an on-premises OpenAI-compatible local_llm (no key, llama-test) at
 * /llm/v1, all on the fake; the default routes, then routes (may be NULL) parsed; backoff
 * 10 ms (cap 2 s), timeout 5 s, deadline 20 s, breakers at 100 failures. */
void aifake_config(struct ai_config *cfg, bool local_llm, const char *routes);
/* Waits until no call is in flight (asserts it), then frees r. */
void aifake_router_free(struct ai_router *r);
/* Asserts the attempts of res as "provider:outcome:http_status,…". */
void aifake_assert_attempts(const struct ai_result *res, const char *want);

/* cmocka fixtures shared by the router test programs: the fake and the HTTP loop for a group;
 * per test, the waiter that *state points to (see AIFAKE_TEST), and a check that no call was
 * left in flight. */
int aifake_group_setup(void **state);
int aifake_group_teardown(void **state);
int aifake_test_setup(void **state);
int aifake_test_teardown(void **state);
#define AIFAKE_TEST(f, waiter)                                                                     \
    cmocka_unit_test_prestate_setup_teardown(f, aifake_test_setup, aifake_test_teardown, waiter)

#endif
