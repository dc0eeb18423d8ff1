/* Unit tests of pipeline/: persisting deliveries, the responder, the reply job, group commit.
 * Storage tests run on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"
#include "dbtest.h"
#include "pipeline/pipeline.h"
#include "store/repo.h"

static struct pipeline_persist_stats store_fixture(struct store *s, const char *name, bool *dup)
{
    size_t len;
    char *body = dbtest_fixture(name, &len);
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    assert_non_null(c);
    struct pipeline_persist_stats st = {0};
    char event_id[37];
    bool duplicate = false;
    assert_int_equal(store_begin(c, &err), 0);
    int rc = pipeline_store_delivery(c, body, len, 0, event_id, &duplicate, &st, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(store_commit(c, &err), 0);
    store_release(c);
    dk_free(body);
    if (dup != NULL) {
        *dup = duplicate;
    }
    return st;
}

static void test_pipeline_persist_batched_delivery(void **state)
{
    struct dbtest *t = *state;
    bool dup;
    struct pipeline_persist_stats st = store_fixture(t->store, "message_batched.json", &dup);
    assert_false(dup);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.replies, 2);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM users"), 2);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations"), 2);
    assert_int_equal(
        dbtest_int(t->store,
                   "SELECT count(*) FROM jobs WHERE kind = 'reply' AND status = 'queued'"),
        2);
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM messages WHERE content = $1 AND "
                                 "sender_type = 'user' AND status = 'received'",
                                 "Спасибо, получила заказ!"),
                     1);
    /* the same body again: acknowledged, nothing new */
    st = store_fixture(t->store, "message_batched.json", &dup);
    assert_true(dup);
    assert_int_equal(st.messages, 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages"), 3);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM webhook_events"), 1);
}

static void test_pipeline_persist_event_kinds(void **state)
{
    struct dbtest *t = *state;
    store_fixture(t->store, "message_text.json", NULL);
    store_fixture(t->store, "message_edit.json", NULL);
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM messages WHERE content = $1 AND "
                                 "edited_at IS NOT NULL",
                                 "Hi! How much is the linen dress in size M?"),
                     1);
    store_fixture(t->store, "message_echo.json", NULL);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = "
                                          "'agent' AND status = 'sent'"),
                     1);
    /* the echo belongs to the customer's conversation (recipient), not a new one */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations"), 1);
    store_fixture(t->store, "reaction.json", NULL);
    store_fixture(t->store, "unreaction.json", NULL);
    store_fixture(t->store, "read.json", NULL);
    store_fixture(t->store, "referral_igme.json", NULL);
    store_fixture(t->store, "unknown_field.json", NULL);
    store_fixture(t->store, "comment.json", NULL);
    store_fixture(t->store, "mention.json", NULL);
    const char *kinds[] = {
        "reaction", "unreaction", "read", "referral", "unknown:messaging_handover",
        "comment",  "mention",    "edit"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_int_equal(
            dbtest_int1(t->store, "SELECT count(*) FROM message_events WHERE kind = $1", kinds[i]),
            1);
    }
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations WHERE referral "
                                          "->> 'ref' = 'autumn_sale'"),
                     1);
    /* a delete of a message we never saw is still recorded */
    store_fixture(t->store, "message_deleted.json", NULL);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM message_events WHERE kind = 'delete'"), 1);
}

static void test_pipeline_persist_attachments_metadata(void **state)
{
    struct dbtest *t = *state;
    store_fixture(t->store, "message_image.json", NULL);
    store_fixture(t->store, "message_story_reply.json", NULL);
    store_fixture(t->store, "message_quick_reply.json", NULL);
    store_fixture(t->store, "referral_ad.json", NULL);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE message_type = "
                                          "'image' AND metadata ->> 'attachments' IS NOT NULL"),
                     1);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM messages WHERE message_type = 'story_reply'"),
        1);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE metadata -> "
                                          "'quick_reply' ->> 'payload' = 'INTENT_DELIVERY'"),
                     1);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations WHERE referral "
                                          "->> 'ad_id' = '120208765432100123'"),
                     1);
}

static void test_pipeline_responder_templates(void **state)
{
    (void)state;
    struct dk_err err = {0};
    struct pipeline_responder *r = pipeline_responder_load(NULL, &err);
    assert_non_null(r);
    /* every built-in intent but spam and other has its own template in both languages */
    const struct nlu_dataset *d = nlu_default_intent_examples();
    const char *handover = pipeline_responder_reply(r, "handover", "en");
    for (size_t i = 0; i < d->n; i++) {
        const char *label = d->v[i].label;
        if (strcmp(label, "spam") == 0 || strcmp(label, "other") == 0) {
            continue;
        }
        assert_ptr_not_equal(pipeline_responder_reply(r, label, "en"), handover);
        assert_ptr_not_equal(pipeline_responder_reply(r, label, "ru"),
                             pipeline_responder_reply(r, label, "en"));
    }
    assert_non_null(strstr(pipeline_responder_reply(r, "thanks", "ru"), "Пожалуйста"));
    assert_non_null(strstr(pipeline_responder_reply(r, "other", "en"), "team"));
    assert_non_null(strstr(pipeline_responder_reply(r, "greeting", "de"), "Hi"));
    /* the more specific question wins over a greeting; unknown intents rank above other */
    assert_true(pipeline_responder_priority("delivery") > pipeline_responder_priority("greeting"));
    assert_true(pipeline_responder_priority("complaint") > pipeline_responder_priority("price"));
    assert_true(pipeline_responder_priority("my_intent") > pipeline_responder_priority("other"));
    assert_int_equal(pipeline_responder_priority("spam"), 0);
    assert_int_equal(pipeline_responder_priority(NLU_OOS_LABEL), 0);
    pipeline_responder_free(r);
}

static void test_pipeline_responder_rejects_bad_file(void **state)
{
    (void)state;
    char path[] = "/tmp/direkt-templates-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"templates\": {}}", f);
    fclose(f);
    struct dk_err err = {0};
    assert_null(pipeline_responder_load(path, &err));
    assert_non_null(strstr(err.msg, "handover"));
    f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    assert_null(pipeline_responder_load(path, &err));
    assert_non_null(strstr(err.msg, path));
    remove(path);
    assert_null(pipeline_responder_load("/nonexistent/templates.json", &err));
}

/* Runs every due reply job once, as a worker would. Returns how many ran. */
static int run_reply_jobs(struct store *s, const struct pipeline_responder *r)
{
    struct pipeline_nlu *nlu = pipeline_nlu_new(NULL);
    struct pipeline_reply_ctx ctx = {.responder = r, .nlu = nlu};
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    assert_non_null(c);
    const char *p[] = {NULL};
    (void)p;
    assert_int_equal(
        store_query(c, "UPDATE jobs SET run_at = 0 WHERE status = 'queued'", 0, NULL, NULL, &err),
        0);

    int n = 0;
    for (;;) {
        struct queue_job *job = NULL;
        assert_int_equal(queue_claim(c, "test", 30000, &job, &err), 0);
        if (job == NULL) {
            break;
        }
        assert_int_equal(store_begin(c, &err), 0);
        if (strcmp(job->kind, PIPELINE_JOB_REPLY) != 0) {
            /* the send jobs the replies queue are the sender's (deliver.c), not run here */
            assert_int_equal(queue_complete(c, job, &err), 0);
            assert_int_equal(store_commit(c, &err), 0);
            queue_job_free(job);
            continue;
        }
        int rc = pipeline_reply_job(&ctx, c, job, &err);
        if (rc != 0) {
            fprintf(stderr, "reply job: %s\n", err.msg);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(queue_complete(c, job, &err), 0);
        assert_int_equal(store_commit(c, &err), 0);
        queue_job_free(job);
        n++;
    }
    store_release(c);
    pipeline_nlu_free(nlu);
    return n;
}

static void test_pipeline_reply_job_answers_once(void **state)
{
    struct dbtest *t = *state;
    struct dk_err err = {0};
    struct pipeline_responder *r = pipeline_responder_load(NULL, &err);
    store_fixture(t->store, "message_batched.json", NULL);
    assert_int_equal(run_reply_jobs(t->store, r), 2);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = 'bot' "
                                          "AND status = 'pending_send'"),
                     2);
    /* the Russian customer gets the Russian template for thanks */
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND "
                                 "intent = 'thanks' AND content = $1",
                                 "Пожалуйста! Пишите нам в любое время."),
                     1);
    /* one reply covers the English customer's two messages */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = "
                                          "'user' AND status = 'processed'"),
                     3);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations WHERE "
                                          "CAST(context ->> 'bot_replies' AS INTEGER) = 1"),
                     2);
    /* every customer message carries what the NLU understood of it */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = "
                                          "'user' AND intent IS NOT NULL AND ai_confidence > 0 "
                                          "AND sentiment IS NOT NULL AND nlu IS NOT NULL"),
                     3);
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM messages WHERE content = $1 AND intent = "
                                 "'availability' AND CAST(entities AS TEXT) LIKE '%black%'",
                                 "is the black bag still available?"),
                     1);
    /* the English burst ("hello", then the availability question) is answered as the more
     * specific of its intents */
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = 'bot' "
                                          "AND intent = 'availability'"),
                     1);
    /* nothing left: running again answers nothing */
    assert_int_equal(run_reply_jobs(t->store, r), 0);
    pipeline_responder_free(r);
}

static void test_pipeline_reply_skips_paused_conversation(void **state)
{
    struct dbtest *t = *state;
    struct dk_err err = {0};
    struct pipeline_responder *r = pipeline_responder_load(NULL, &err);
    store_fixture(t->store, "message_text.json", NULL);
    char until[DK_TIME_LEN];
    dk_time_format(dk_now_ms() + 3600000, until);
    dbtest_int1(t->store, "UPDATE conversations SET bot_paused_until = $1 RETURNING 1", until);
    assert_int_equal(run_reply_jobs(t->store, r), 1);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM messages WHERE sender_type = 'bot'"), 0);
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM conversations WHERE context ->> "
                                 "'last_skip_reason' = $1",
                                 "bot paused in this conversation"),
                     1);
    pipeline_responder_free(r);
}

static void test_pipeline_batch_keeps_order_and_dedupes(void **state)
{
    struct dbtest *t = *state;
    const char *names[] = {"message_text.json", "message_edit.json", "message_text.json",
                           "message_batched.json", "message_deleted.json"};
    enum { N = 5 };
    char *bodies[N];
    struct ig_delivery *ds[N];
    struct pipeline_input in[N];
    struct dk_err err = {0};
    for (int i = 0; i < N; i++) {
        size_t len;
        bodies[i] = dbtest_fixture(names[i], &len);
        assert_int_equal(ig_delivery_parse(bodies[i], len, &ds[i], &err), 0);
        in[i] = (struct pipeline_input){.body = bodies[i], .len = len, .d = ds[i]};
    }
    struct store_conn *c = store_acquire(t->store, &err);
    assert_non_null(c);
    struct pipeline_persist_stats st = {0};
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(pipeline_store_deliveries(c, in, N, 0, &st, &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
    store_release(c);
    /* the same body twice in one batch: stored once, both acknowledged with one event id */
    assert_false(in[0].duplicate);
    assert_true(in[2].duplicate);
    assert_string_equal(in[0].event_id, in[2].event_id);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM webhook_events"), 4);
    /* the edit in the same batch found the message stored before it */
    assert_int_equal(dbtest_int1(t->store, "SELECT count(*) FROM messages WHERE content = $1",
                                 "Hi! How much is the linen dress in size M?"),
                     1);
    /* the delete of a batched message in the same batch marked it */
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT count(*) FROM messages WHERE instagram_mid = $1 AND "
                                 "deleted_at IS NOT NULL",
                                 "aWdfZAG1faXRlbTpCYXRjaGVkMgZDZD"),
                     1);
    assert_int_equal(st.messages, 4);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations"), 2);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 2);
    for (int i = 0; i < N; i++) {
        ig_delivery_free(ds[i]);
        dk_free(bodies[i]);
    }
}

struct ack {
    atomic_int ok, failed;
};

static void on_done(void *arg, int rc, const struct dk_err *err, const char *event_id, bool dup)
{
    (void)err;
    (void)dup;
    struct ack *a = arg;
    if (rc == 0 && event_id != NULL && store_is_uuid(event_id)) {
        atomic_fetch_add(&a->ok, 1);
    } else {
        atomic_fetch_add(&a->failed, 1);
    }
}

static char *make_body(int i, size_t *len)
{
    char *b = dk_asprintf(
        "{\"object\":\"instagram\",\"entry\":[{\"id\":\"acct\",\"time\":1764000000000,"
        "\"messaging\":[{\"sender\":{\"id\":\"cust%d\"},\"recipient\":{\"id\":\"acct\"},"
        "\"timestamp\":1764000000000,\"message\":{\"mid\":\"mid-%d\",\"text\":\"hello %d\"}}]}]}",
        i % 10, i, i);
    *len = strlen(b);
    return b;
}

static void test_pipeline_ingest_group_commit(void **state)
{
    struct dbtest *t = *state;
    enum { N = 200 };
    struct pipeline_ingest_config cfg = {.store = t->store,
                                         .writers = 2,
                                         .batch_max = 64,
                                         .queue_max = 1000,
                                         .reply_debounce_ms = 1000};
    struct pipeline_ingest *in = pipeline_ingest_start(&cfg);
    static char *bodies[N];
    static struct ig_delivery *ds[N];
    struct ack a;
    atomic_init(&a.ok, 0);
    atomic_init(&a.failed, 0);
    struct dk_err err = {0};
    for (int i = 0; i < N; i++) {
        size_t len;
        bodies[i] = make_body(i, &len);
        assert_int_equal(ig_delivery_parse(bodies[i], len, &ds[i], &err), 0);
        assert_int_equal(pipeline_ingest_submit(in, bodies[i], len, ds[i], on_done, &a, &err), 0);
    }
    pipeline_ingest_stop(in); /* commits what is queued */
    assert_int_equal(atomic_load(&a.ok), N);
    assert_int_equal(atomic_load(&a.failed), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages"), N);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM conversations"), 10);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM jobs WHERE status = 'queued'"), 10);
    for (int i = 0; i < N; i++) {
        ig_delivery_free(ds[i]);
        dk_free(bodies[i]);
    }
}

static void test_pipeline_ingest_database_down_stores_nothing(void **state)
{
    struct dbtest *t = *state;
    struct pipeline_ingest_config cfg = {.store = t->store,
                                         .writers = 1,
                                         .batch_max = 64,
                                         .queue_max = 1000,
                                         .reply_debounce_ms = 1000};
    struct pipeline_ingest *in = pipeline_ingest_start(&cfg);
    struct ack a;
    atomic_init(&a.ok, 0);
    atomic_init(&a.failed, 0);
    struct dk_err err = {0};
    size_t len;
    char *body = make_body(1, &len);
    struct ig_delivery *d = NULL;
    assert_int_equal(ig_delivery_parse(body, len, &d, &err), 0);
    store_fail_after(4); /* fails in the middle of the delivery's statements */
    assert_int_equal(pipeline_ingest_submit(in, body, len, d, on_done, &a, &err), 0);
    pipeline_ingest_stop(in);
    store_fail_after(0);
    assert_int_equal(atomic_load(&a.failed), 1);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM webhook_events"), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM users"), 0);
    ig_delivery_free(d);
    dk_free(body);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_pipeline_responder_templates),
        cmocka_unit_test(test_pipeline_responder_rejects_bad_file),
    };
    const struct CMUnitTest db[] = {
        T(test_pipeline_persist_batched_delivery),
        T(test_pipeline_persist_event_kinds),
        T(test_pipeline_persist_attachments_metadata),
        T(test_pipeline_reply_job_answers_once),
        T(test_pipeline_reply_skips_paused_conversation),
        T(test_pipeline_batch_keeps_order_and_dedupes),
        T(test_pipeline_ingest_group_commit),
        T(test_pipeline_ingest_database_down_stores_nothing),
    };
    int failed = cmocka_run_group_tests_name("pipeline", plain, NULL, NULL);
    failed += cmocka_run_group_tests_name("pipeline_sqlite", db, dbtest_group_sqlite,
                                          dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("pipeline_postgres", db, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
