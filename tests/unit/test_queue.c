/* Unit tests of queue/: durable jobs on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "dbtest.h"
#include "core/mem.h"
#include "queue/queue.h"
#include "store/repo.h"

static void enqueue(struct store_conn *c, const char *kind, const char *key, int64_t run_at,
                    int max, int64_t *id)
{
    struct dk_err err = {0};
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(queue_enqueue(c, kind, "{\"n\":1}", key, run_at, max, id, &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
}

static void test_queue_claim_complete(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    int64_t id;
    enqueue(c, "reply", NULL, dk_now_ms(), 5, &id);
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 30000, &job, &err), 0);
    assert_non_null(job);
    assert_int_equal(job->id, id);
    assert_string_equal(job->kind, "reply");
    assert_int_equal(job->attempts, 1);
    assert_int_equal(json_integer_value(json_object_get(job->payload, "n")), 1);
    /* nothing else is due */
    struct queue_job *none = NULL;
    assert_int_equal(queue_claim(c, "w2", 30000, &none, &err), 0);
    assert_null(none);
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(queue_complete(c, job, &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 1);
    queue_job_free(job);
    store_release(c);
}

static void test_queue_delayed_job_waits(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    enqueue(c, "reply", NULL, dk_now_ms() + 60000, 5, NULL);
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 30000, &job, &err), 0);
    assert_null(job);
    store_release(c);
}

static void test_queue_unique_key_debounces(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    int64_t a, b;
    int64_t later = dk_now_ms() + 5000;
    enqueue(c, "reply", "reply:x", dk_now_ms(), 5, &a);
    enqueue(c, "reply", "reply:x", later, 5, &b);
    assert_int_equal(a, b);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(dbtest_int(t->store, "SELECT run_at FROM jobs"), later);
    /* once running, a new enqueue with the same key creates a second (queued) job */
    assert_int_equal(dbtest_int(t->store, "UPDATE jobs SET run_at = 0 RETURNING 1"), 1);
    struct dk_err err = {0};
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 30000, &job, &err), 0);
    assert_non_null(job);
    enqueue(c, "reply", "reply:x", dk_now_ms(), 5, &b);
    assert_int_not_equal(a, b);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs"), 2);
    queue_job_free(job);
    store_release(c);
}

static void test_queue_failure_backs_off_then_dead_letters(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    enqueue(c, "reply", NULL, dk_now_ms(), 2, NULL);
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 30000, &job, &err), 0);
    int64_t before = dk_now_ms();
    assert_int_equal(queue_fail(c, job, "boom 1", &err), 0);
    queue_job_free(job);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 1);
    long long run_at = dbtest_int(t->store, "SELECT run_at FROM jobs");
    assert_true(run_at >= before + 500 && run_at <= before + 1100);
    /* make it due again; the second failure exhausts max_attempts = 2 */
    dbtest_int(t->store, "UPDATE jobs SET run_at = 0 RETURNING 1");
    assert_int_equal(queue_claim(c, "w1", 30000, &job, &err), 0);
    assert_int_equal(job->attempts, 2);
    assert_int_equal(queue_fail(c, job, "boom 2", &err), 0);
    queue_job_free(job);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'failed' "
                                          "AND last_error = 'boom 2' AND attempts = 2"),
                     1);
    store_release(c);
}

static void test_queue_backoff_grows_with_jitter(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        int64_t b1 = queue_backoff_ms(1), b3 = queue_backoff_ms(3), b30 = queue_backoff_ms(30);
        assert_true(b1 >= 500 && b1 <= 1000);
        assert_true(b3 >= 2000 && b3 <= 4000);
        assert_true(b30 >= 300000 && b30 <= 600000);
    }
}

static void test_queue_lost_lease_cannot_complete(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    enqueue(c, "reply", NULL, dk_now_ms(), 5, NULL);
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 1, &job, &err), 0);
    dk_sleep_ms(5);
    int n = 0;
    assert_int_equal(queue_reclaim_expired(c, dk_now_ms(), &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 1);
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(queue_complete(c, job, &err), DK_EBUSY);
    store_rollback(c);
    /* another worker takes it over: attempt 2 */
    struct queue_job *again = NULL;
    dbtest_int(t->store, "UPDATE jobs SET run_at = 0 RETURNING 1");
    assert_int_equal(queue_claim(c, "w2", 30000, &again, &err), 0);
    assert_non_null(again);
    assert_int_equal(again->attempts, 2);
    queue_job_free(job);
    queue_job_free(again);
    store_release(c);
}

static void test_queue_reclaim_supersedes_with_queued_twin(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    enqueue(c, "reply", "reply:y", dk_now_ms(), 5, NULL);
    struct queue_job *job = NULL;
    assert_int_equal(queue_claim(c, "w1", 1, &job, &err), 0);
    enqueue(c, "reply", "reply:y", dk_now_ms() + 60000, 5, NULL);
    dk_sleep_ms(5);
    assert_int_equal(queue_reclaim_expired(c, dk_now_ms(), NULL, &err), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 1);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 1);
    queue_job_free(job);
    store_release(c);
}

static void test_queue_lease_is_exclusive(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    bool held = false;
    assert_int_equal(queue_lease(c, "scheduler", "a", 60000, &held, &err), 0);
    assert_true(held);
    assert_int_equal(queue_lease(c, "scheduler", "b", 60000, &held, &err), 0);
    assert_false(held);
    assert_int_equal(queue_lease(c, "scheduler", "a", 60000, &held, &err), 0);
    assert_true(held);
    assert_int_equal(queue_lease_release(c, "scheduler", "a", &err), 0);
    assert_int_equal(queue_lease(c, "scheduler", "b", 1, &held, &err), 0);
    assert_true(held);
    dk_sleep_ms(5);
    assert_int_equal(queue_lease(c, "scheduler", "a", 60000, &held, &err), 0);
    assert_true(held); /* b's lease expired */
    store_release(c);
}

/* Runs a pool with pc until n jobs have the status (or timeout_ms passes), then stops it. */
static void run_pool(struct dbtest *t, const struct queue_pool_config *pc, const char *status,
                     int n, int64_t timeout_ms)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE status = '%s'", status);
    struct queue_pool *p = queue_pool_start(pc);
    int64_t deadline = dk_mono_ms() + timeout_ms;
    while (dk_mono_ms() < deadline && dbtest_int(t->store, sql) < n) {
        dk_sleep_ms(20);
    }
    queue_pool_stop(p);
}

struct counting {
    atomic_int runs;
    int fail_first;
};

static int counting_handler(void *ctx, struct store_conn *c, const struct queue_job *job,
                            struct dk_err *err)
{
    (void)c;
    (void)job;
    struct counting *k = ctx;
    int n = atomic_fetch_add(&k->runs, 1);
    if (n < k->fail_first) {
        return dk_err_set(err, DK_EINTERNAL, "planned failure %d", n);
    }
    return 0;
}

static void test_queue_pool_runs_and_retries(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    for (int i = 0; i < 20; i++) {
        enqueue(c, "count", NULL, dk_now_ms(), 5, NULL);
    }
    store_release(c);
    struct counting k = {.fail_first = 1};
    atomic_init(&k.runs, 0);
    static const struct queue_kind kinds[] = {{"count", counting_handler, false}};
    struct queue_pool_config pc = {.store = t->store,
                                   .kinds = kinds,
                                   .nkinds = 1,
                                   .ctx = &k,
                                   .threads = 3,
                                   .lease_ms = 30000,
                                   .poll_ms = 20,
                                   .name = "test"};
    /* the failed job comes back after its backoff (0.5-1 s) */
    run_pool(t, &pc, "done", 20, 15000);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 20);
    assert_int_equal(atomic_load(&k.runs), 21);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE attempts = 2"), 1);
}

/* An own_tx kind: runs outside the batch transaction, keeps its own short one. */
static atomic_int own_in_tx;

static int own_handler(void *ctx, struct store_conn *c, const struct queue_job *job,
                       struct dk_err *err)
{
    if (store_in_tx(c)) {
        atomic_fetch_add(&own_in_tx, 1);
    }
    char key[48];
    snprintf(key, sizeof(key), "own-%lld", (long long)job->id);
    char *value = NULL;
    int rc = store_begin(c, err);
    if (rc == 0) {
        rc = store_setting_init(c, key, "done", dk_now_ms(), &value, err);
    }
    if (rc == 0) {
        rc = store_commit(c, err);
    } else {
        store_rollback(c);
    }
    dk_free(value);
    return rc != 0 ? rc : counting_handler(ctx, c, job, err);
}

static void test_queue_pool_own_tx_kind(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    for (int i = 0; i < 6; i++) {
        enqueue(c, i % 2 == 0 ? "own" : "count", NULL, dk_now_ms(), 5, NULL);
    }
    store_release(c);
    struct counting k = {.fail_first = 1};
    atomic_init(&k.runs, 0);
    atomic_init(&own_in_tx, 0);
    static const struct queue_kind kinds[] = {{"count", counting_handler, false},
                                              {"own", own_handler, true}};
    struct queue_pool_config pc = {.store = t->store,
                                   .kinds = kinds,
                                   .nkinds = 2,
                                   .ctx = &k,
                                   .threads = 1,
                                   .lease_ms = 30000,
                                   .poll_ms = 20,
                                   .name = "test"};
    run_pool(t, &pc, "done", 6, 15000);
    /* every job done, the own_tx ones never inside a transaction, their own work committed
     * (at least once: a failed run is repeated, its committed work stays) */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 6);
    assert_int_equal(atomic_load(&own_in_tx), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM settings WHERE key LIKE 'own-%'"),
                     3);
    assert_int_equal(atomic_load(&k.runs), 7);
}

/* Handlers that hand their job over (DK_EPENDING): the job stays running under the longer
 * lease they took, and whoever holds the copy completes or requeues it later. */
static struct queue_job pending_copy[2];
static atomic_int pending_n;

static int pending_handler(void *ctx, struct store_conn *c, const struct queue_job *job,
                           struct dk_err *err)
{
    (void)ctx;
    int rc = queue_extend_lease(c, job, dk_now_ms() + 60000, err);
    if (rc != 0) {
        return rc;
    }
    int i = atomic_fetch_add(&pending_n, 1);
    if (i < 2) {
        pending_copy[i].id = job->id;
        snprintf(pending_copy[i].worker, sizeof(pending_copy[i].worker), "%s", job->worker);
        snprintf(pending_copy[i].kind, sizeof(pending_copy[i].kind), "%s", job->kind);
    }
    return DK_EPENDING;
}

static void test_queue_pending_hand_over(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    enqueue(c, "pend_own", NULL, dk_now_ms(), 5, NULL);
    enqueue(c, "pend_tx", NULL, dk_now_ms(), 5, NULL);
    store_release(c);
    atomic_init(&pending_n, 0);
    static const struct queue_kind kinds[] = {{"pend_own", pending_handler, true},
                                              {"pend_tx", pending_handler, false}};
    struct queue_pool_config pc = {.store = t->store,
                                   .kinds = kinds,
                                   .nkinds = 2,
                                   .threads = 1,
                                   .lease_ms = 2000,
                                   .poll_ms = 20,
                                   .name = "test"};
    run_pool(t, &pc, "running", 2, 10000);
    dk_sleep_ms(100); /* a batch that handed over its jobs has nothing left to do with them */
    assert_int_equal(atomic_load(&pending_n), 2);
    /* neither done nor failed: still running, under the lease the handler took */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'running'"), 2);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE locked_until > %lld",
             (long long)(dk_now_ms() + 50000));
    assert_int_equal(dbtest_int(t->store, sql), 2);
    /* the owner completes one and sends the other back for its next step */
    c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(queue_complete(c, &pending_copy[0], &err), 0);
    assert_int_equal(queue_requeue(c, &pending_copy[1], &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
    /* a second completion finds no lease */
    assert_int_equal(queue_complete(c, &pending_copy[0], &err), DK_EBUSY);
    store_release(c);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 1);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued' AND attempts = 0"),
        1);
}

static void test_queue_unknown_kind_fails_visibly(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    enqueue(c, "nobody", NULL, dk_now_ms(), 1, NULL);
    store_release(c);
    static const struct queue_kind kinds[] = {{"count", counting_handler, false}};
    struct counting k = {0};
    struct queue_pool_config pc = {.store = t->store,
                                   .kinds = kinds,
                                   .nkinds = 1,
                                   .ctx = &k,
                                   .threads = 1,
                                   .lease_ms = 30000,
                                   .poll_ms = 20};
    run_pool(t, &pc, "failed", 1, 5000);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'failed'"), 1);
    struct dk_err err = {0};
    c = dbtest_conn(state);
    json_t *active = NULL;
    assert_int_equal(queue_list_active(c, 10, &active, &err), 0);
    assert_int_equal(json_array_size(active), 0);
    json_decref(active);
    store_release(c);
}

static void test_queue_list_active_shows_attempts(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    enqueue(c, "reply", "reply:z", dk_now_ms() + 60000, 5, NULL);
    json_t *active = NULL;
    assert_int_equal(queue_list_active(c, 10, &active, &err), 0);
    assert_int_equal(json_array_size(active), 1);
    json_t *j = json_array_get(active, 0);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "queued");
    assert_string_equal(json_string_value(json_object_get(j, "unique_key")), "reply:z");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    assert_true(json_is_string(json_object_get(j, "run_at")));
    json_decref(active);
    store_release(c);
}

static int slow_handler(void *ctx, struct store_conn *c, const struct queue_job *job,
                        struct dk_err *err)
{
    (void)c;
    (void)job;
    (void)err;
    atomic_fetch_add((atomic_int *)ctx, 1);
    dk_sleep_ms(400);
    return 0;
}

static void test_queue_batch_gives_back_what_it_cannot_reach(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    for (int i = 0; i < 4; i++) {
        enqueue(c, "slow", NULL, dk_now_ms(), 5, NULL);
    }
    store_release(c);
    atomic_int runs;
    atomic_init(&runs, 0);
    static const struct queue_kind kinds[] = {{"slow", slow_handler, false}};
    /* a lease of 1 s: a batch stops after 0.5 s, i.e. after two of these jobs */
    struct queue_pool_config pc = {.store = t->store,
                                   .kinds = kinds,
                                   .nkinds = 1,
                                   .ctx = &runs,
                                   .threads = 1,
                                   .lease_ms = 1000,
                                   .poll_ms = 20,
                                   .batch = 4};
    run_pool(t, &pc, "done", 4, 10000);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'done'"), 4);
    assert_int_equal(atomic_load(&runs), 4);
    /* every job ran once, and the ones given back were not charged an attempt */
    assert_int_equal(dbtest_int(t->store, "SELECT max(attempts) FROM jobs"), 1);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_queue_claim_complete),
        T(test_queue_delayed_job_waits),
        T(test_queue_unique_key_debounces),
        T(test_queue_failure_backs_off_then_dead_letters),
        T(test_queue_backoff_grows_with_jitter),
        T(test_queue_lost_lease_cannot_complete),
        T(test_queue_reclaim_supersedes_with_queued_twin),
        T(test_queue_lease_is_exclusive),
        T(test_queue_pool_runs_and_retries),
        T(test_queue_pool_own_tx_kind),
        T(test_queue_pending_hand_over),
        T(test_queue_unknown_kind_fails_visibly),
        T(test_queue_list_active_shows_attempts),
        T(test_queue_batch_gives_back_what_it_cannot_reach),
    };
    int failed = cmocka_run_group_tests_name("queue_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("queue_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
