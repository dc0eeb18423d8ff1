/* Unit tests of the store repositories (store/repo.h), on SQLite and on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"
#include "dbtest.h"
#include "store/repo.h"

/* A customer with a conversation and n messages one second apart; returns the user id. */
static int64_t seed(struct store_conn *c, const char *igid, int n, char conv[STORE_ID_LEN])
{
    struct dk_err err = {0};
    int64_t uid = 0;
    bool created;
    assert_int_equal(store_user_ensure(c, igid, 1764000000000, &uid, &err), 0);
    assert_int_equal(store_conversation_ensure(c, uid, "acct", 1764000000000, conv, &created, &err),
                     0);
    for (int i = 0; i < n; i++) {
        char mid[64], text[32];
        snprintf(mid, sizeof(mid), "%s-m%d", igid, i);
        snprintf(text, sizeof(text), "message %d", i);
        struct store_message m = {.conversation_id = conv,
                                  .instagram_mid = mid,
                                  .sender_type = "user",
                                  .content = text,
                                  .created_ms = 1764000000000 + i * 1000};
        bool inserted;
        assert_int_equal(store_message_insert(c, &m, &inserted, &err), 0);
        assert_true(inserted);
    }
    return uid;
}

static void test_store_repo_users(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    int64_t a = 0, b = 0;
    assert_int_equal(store_user_ensure(c, "1327813061483247", dk_now_ms(), &a, &err), 0);
    assert_int_equal(store_user_ensure(c, "1327813061483247", dk_now_ms(), &b, &err), 0);
    assert_true(a > 0);
    assert_int_equal(a, b);
    json_t *u = NULL;
    assert_int_equal(store_user_get(c, "1327813061483247", 0, &u, &err), 0);
    assert_string_equal(json_string_value(json_object_get(u, "instagram_id")), "1327813061483247");
    assert_true(json_is_object(json_object_get(u, "preferences")));
    json_decref(u);
    assert_int_equal(store_user_set_preferences(c, a, "{\"language\":\"ru\"}", dk_now_ms(), &err),
                     0);
    assert_int_equal(store_user_get(c, NULL, a, &u, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(u, "preferences"), "language")), "ru");
    json_decref(u);
    assert_int_equal(store_user_get(c, "nobody", 0, &u, &err), DK_ENOTFOUND);
    assert_int_equal(store_user_set_preferences(c, 999999, "{}", dk_now_ms(), &err), DK_ENOTFOUND);
    store_release(c);
}

static void test_store_repo_conversation_paging(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    for (int i = 0; i < 7; i++) {
        char igid[32];
        snprintf(igid, sizeof(igid), "cust%d", i);
        seed(c, igid, 0, conv);
        /* distinct activity times so that the order is known */
        assert_int_equal(store_conversation_customer_activity(c, conv, 1764000000000 + i,
                                                              1764000000000 + i, &err),
                         0);
    }
    json_t *seen = json_object();
    char *cursor = NULL;
    int pages = 0;
    char prev[DK_TIME_LEN + 40] = "";
    do {
        json_t *items = NULL;
        char *next = NULL;
        assert_int_equal(store_conversation_list(c, NULL, 0, cursor, 3, &items, &next, &err), 0);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            assert_null(json_object_get(seen, id));
            json_object_set_new(seen, id, json_true());
            const char *upd = json_string_value(json_object_get(it, "updated_at"));
            if (prev[0] != '\0') {
                assert_true(strcmp(upd, prev) <= 0); /* newest first */
            }
            snprintf(prev, sizeof(prev), "%s", upd);
        }
        json_decref(items);
        dk_free(cursor);
        cursor = next;
        pages++;
    } while (cursor != NULL);
    assert_int_equal(json_object_size(seen), 7);
    assert_int_equal(pages, 3);
    json_decref(seen);
    /* filters */
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(store_conversation_list(c, "closed", 0, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    assert_int_equal(
        store_conversation_list(c, "active", 1764000000005, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    assert_int_equal(store_conversation_list(c, NULL, 0, "garbage", 10, &items, &next, &err),
                     DK_EUNPROCESS);
    store_release(c);
}

static void test_store_repo_conversation_context(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    int64_t uid = seed(c, "ctx", 0, conv);
    assert_int_equal(
        store_conversation_set_context(c, conv, "{\"stage\":\"checkout\"}", dk_now_ms(), &err), 0);
    struct store_conversation loaded;
    assert_int_equal(store_conversation_load(c, conv, &loaded, &err), 0);
    assert_non_null(strstr(loaded.context, "checkout"));
    assert_int_equal(loaded.user_id, uid);
    assert_string_equal(loaded.account_id, "acct");
    assert_string_equal(loaded.status, "active");
    store_conversation_clear(&loaded);
    json_t *j = NULL;
    assert_int_equal(store_conversation_get(c, conv, &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "context"), "stage")),
                        "checkout");
    assert_string_equal(json_string_value(json_object_get(j, "instagram_id")), "ctx");
    json_decref(j);
    assert_int_equal(store_conversation_set_referral(c, conv, "{\"ref\":\"x\"}", dk_now_ms(), &err),
                     0);
    assert_int_equal(store_conversation_list_by_user(c, uid, &j, &err), 0);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    char missing[STORE_ID_LEN];
    dk_uuid_v7(missing);
    assert_int_equal(store_conversation_get(c, missing, &j, &err), DK_ENOTFOUND);
    assert_int_equal(store_conversation_set_context(c, missing, "{}", dk_now_ms(), &err),
                     DK_ENOTFOUND);
    int64_t fuid;
    char fconv[STORE_ID_LEN];
    assert_int_equal(store_conversation_find(c, "ctx", "acct", &fuid, fconv, &err), 0);
    assert_string_equal(fconv, conv);
    assert_int_equal(store_conversation_find(c, "ctx", "other", &fuid, fconv, &err), 0);
    assert_int_equal(fuid, uid);
    assert_string_equal(fconv, "");
    store_release(c);
}

static void test_store_repo_message_history(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    int64_t uid = seed(c, "hist", 5, conv);
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(store_message_history(c, conv, NULL, 2, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "content")),
                        "message 4");
    assert_non_null(next);
    json_decref(items);
    char *next2 = NULL;
    assert_int_equal(store_message_history(c, conv, next, 10, &items, &next2, &err), 0);
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "content")),
                        "message 2");
    assert_null(next2);
    json_decref(items);
    dk_free(next);
    assert_int_equal(store_message_history_by_user(c, uid, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 5);
    json_decref(items);
    /* dedupe by mid, edit, delete, lookup */
    struct store_message dup = {.conversation_id = conv,
                                .instagram_mid = "hist-m0",
                                .sender_type = "user",
                                .content = "again",
                                .created_ms = dk_now_ms()};
    bool inserted = true, found = false;
    assert_int_equal(store_message_insert(c, &dup, &inserted, &err), 0);
    assert_false(inserted);
    assert_int_equal(store_message_apply_edit(c, "hist-m0", "edited", dk_now_ms(), &found, &err),
                     0);
    assert_true(found);
    assert_int_equal(store_message_mark_deleted(c, "hist-m1", dk_now_ms(), &found, &err), 0);
    assert_true(found);
    assert_int_equal(store_message_mark_deleted(c, "nope", dk_now_ms(), &found, &err), 0);
    assert_false(found);
    char owner[STORE_ID_LEN];
    assert_int_equal(store_message_conversation(c, "hist-m2", owner, &err), 0);
    assert_string_equal(owner, conv);
    assert_int_equal(store_message_conversation(c, "nope", owner, &err), DK_ENOTFOUND);
    /* claiming the unanswered ones: oldest first, once */
    assert_int_equal(store_message_claim_unanswered(c, conv, &items, &err), 0);
    assert_int_equal(json_array_size(items), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "content")),
                        "edited");
    json_decref(items);
    assert_int_equal(store_message_claim_unanswered(c, conv, &items, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    store_release(c);
}

static void test_store_repo_events_tokens_settings(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    seed(c, "ev", 0, conv);
    bool inserted = false;
    assert_int_equal(store_message_event_insert(c, "read:ev:1", conv, "m1", "read", "{\"a\":1}",
                                                dk_now_ms(), &inserted, &err),
                     0);
    assert_true(inserted);
    assert_int_equal(store_message_event_insert(c, "read:ev:1", conv, "m1", "read", "{}",
                                                dk_now_ms(), &inserted, &err),
                     0);
    assert_false(inserted);
    json_t *items = NULL;
    assert_int_equal(store_message_event_list(c, conv, &items, &err), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);

    char sha[DK_SHA256_HEX];
    dk_sha256_hex("tok", 3, sha);
    int64_t tid = 0;
    assert_int_equal(store_token_insert(c, "ci", sha, dk_now_ms(), &tid, &err), 0);
    assert_int_equal(store_token_check(c, sha, &err), 0);
    dk_sha256_hex("other", 5, sha);
    assert_int_equal(store_token_check(c, sha, &err), DK_EAUTH);

    char *v = NULL;
    assert_int_equal(store_setting_get(c, "k", &v, &err), 0);
    assert_null(v);
    assert_int_equal(store_setting_init(c, "k", "first", dk_now_ms(), &v, &err), 0);
    assert_string_equal(v, "first");
    dk_free(v);
    assert_int_equal(store_setting_init(c, "k", "second", dk_now_ms(), &v, &err), 0);
    assert_string_equal(v, "first");
    dk_free(v);

    char id[STORE_ID_LEN], id2[STORE_ID_LEN];
    assert_int_equal(store_webhook_event_insert(c, sha, "instagram", "{\"x\":1}", 1, 0, dk_now_ms(),
                                                id, &inserted, &err),
                     0);
    assert_true(inserted);
    assert_int_equal(store_webhook_event_insert(c, sha, "instagram", "{\"x\":1}", 1, 0, dk_now_ms(),
                                                id2, &inserted, &err),
                     0);
    assert_false(inserted);
    assert_string_equal(id, id2);
    char *payload = NULL;
    assert_int_equal(store_webhook_event_payload(c, id, &payload, &err), 0);
    assert_string_equal(payload, "{\"x\":1}");
    dk_free(payload);
    assert_int_equal(store_webhook_event_mark_replayed(c, id, dk_now_ms(), &err), 0);
    char missing[STORE_ID_LEN];
    dk_uuid_v7(missing);
    assert_int_equal(store_webhook_event_payload(c, missing, &payload, &err), DK_ENOTFOUND);
    store_release(c);
}

static void test_store_repo_bulk_matches_single_rows(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    seed(c, "bulk", 1, conv);
    struct store_bulk_event ev[3] = {
        {.sha256 = "a",
         .object = "instagram",
         .payload = "{\"p\":\"\\u00e9 \\\"q\\\"\"}",
         .items = 1,
         .received_ms = dk_now_ms()},
        {.sha256 = "b", .object = NULL, .payload = "{}", .received_ms = dk_now_ms()},
        {.sha256 = "a", .object = "instagram", .payload = "{}", .received_ms = dk_now_ms()},
    };
    assert_int_equal(store_webhook_event_insert_bulk(c, ev, 3, &err), 0);
    assert_true(ev[0].inserted && ev[1].inserted && !ev[2].inserted);
    assert_string_equal(ev[0].id, ev[2].id);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM webhook_events"), 2);

    struct store_message m[3] = {
        {.conversation_id = conv,
         .instagram_mid = "bulk-m0",
         .sender_type = "user",
         .content = "dup",
         .created_ms = dk_now_ms()},
        {.conversation_id = conv,
         .instagram_mid = "bulk-new",
         .sender_type = "user",
         .content = "Привет 👋 \"quoted\"\n",
         .metadata = "{\"k\":[1,2]}",
         .created_ms = dk_now_ms()},
        {.conversation_id = conv,
         .instagram_mid = "bulk-new",
         .sender_type = "user",
         .content = "same mid twice",
         .created_ms = dk_now_ms()},
    };
    bool inserted[3];
    assert_int_equal(store_message_insert_bulk(c, m, inserted, 3, &err), 0);
    assert_false(inserted[0]);
    assert_true(inserted[1]);
    assert_false(inserted[2]);
    assert_int_equal(dbtest_int1(t->store, "SELECT count(*) FROM messages WHERE content = $1",
                                 "Привет 👋 \"quoted\"\n"),
                     1);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM messages WHERE metadata ->> 'k' IS NOT NULL"),
        1);

    struct store_party p[2] = {{.customer = "bulk", .account = "acct"},
                               {.customer = "stranger", .account = "acct"}};
    assert_int_equal(store_conversation_find_bulk(c, p, 2, &err), 0);
    assert_string_equal(p[0].conv, conv);
    assert_true(p[0].user_id > 0);
    assert_string_equal(p[1].conv, "");
    assert_int_equal(p[1].user_id, 0);

    struct store_touch touch = {.at_ms = 1900000000000};
    memcpy(touch.conv, conv, STORE_ID_LEN);
    assert_int_equal(store_conversation_activity_bulk(c, &touch, 1, dk_now_ms(), &err), 0);
    struct store_conversation loaded;
    assert_int_equal(store_conversation_load(c, conv, &loaded, &err), 0);
    assert_int_equal(loaded.last_user_message_ms, 1900000000000);
    store_conversation_clear(&loaded);
    /* never moves back */
    touch.at_ms = 1000;
    assert_int_equal(store_conversation_activity_bulk(c, &touch, 1, dk_now_ms(), &err), 0);
    assert_int_equal(store_conversation_load(c, conv, &loaded, &err), 0);
    assert_int_equal(loaded.last_user_message_ms, 1900000000000);
    store_conversation_clear(&loaded);
    store_release(c);
}

static void test_store_repo_nlu(void **state)
{
    struct dbtest *t = *state;
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(t->store, &err);
    assert_non_null(c);
    int64_t now = dk_now_ms();
    /* intents: a business's own and a switched-off built-in one */
    assert_int_equal(store_nlu_intent_put(c, "gift_card", "vouchers", false, true, now, &err), 0);
    assert_int_equal(store_nlu_intent_put(c, "spam", NULL, true, false, now, &err), 0);
    json_t *row = NULL, *list = NULL;
    assert_int_equal(store_nlu_example_add(c, "gift_card", "gift card?", now, &row, &err), 0);
    assert_non_null(row);
    int64_t ex = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    assert_int_equal(store_nlu_example_add(c, "gift_card", "gift card?", now, &row, &err), 0);
    assert_null(row); /* a duplicate is not added */
    assert_int_equal(store_nlu_example_add(c, "spam", "buy followers", now, &row, &err), 0);
    json_decref(row);
    assert_int_equal(store_nlu_intent_list(c, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    json_t *gift = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(gift, "name")), "gift_card");
    assert_true(json_is_true(json_object_get(gift, "enabled")));
    assert_false(json_is_true(json_object_get(gift, "builtin")));
    assert_int_equal(json_integer_value(json_object_get(gift, "examples")), 1);
    assert_false(json_is_true(json_object_get(json_array_get(list, 1), "enabled")));
    json_decref(list);
    /* the training set has the enabled intents' examples and names the switched-off ones */
    json_t *examples = NULL, *disabled = NULL;
    assert_int_equal(store_nlu_training_set(c, &examples, &disabled, &err), 0);
    assert_int_equal(json_array_size(examples), 1);
    assert_string_equal(json_string_value(json_array_get(json_array_get(examples, 0), 1)),
                        "gift_card");
    assert_int_equal(json_array_size(disabled), 1);
    json_decref(examples);
    json_decref(disabled);
    /* a NULL description keeps the old one */
    assert_int_equal(store_nlu_intent_put(c, "gift_card", NULL, false, true, now, &err), 0);
    assert_int_equal(store_nlu_intent_get(c, "gift_card", &row, &err), 0);
    assert_string_equal(json_string_value(json_object_get(row, "description")), "vouchers");
    json_decref(row);
    bool found = false;
    assert_int_equal(store_nlu_example_delete(c, "spam", ex, &found, &err), 0);
    assert_false(found); /* the id belongs to another intent */
    assert_int_equal(store_nlu_example_delete(c, "gift_card", ex, &found, &err), 0);
    assert_true(found);
    assert_int_equal(store_nlu_intent_delete(c, "gift_card", &err), 0);
    assert_int_equal(store_nlu_intent_get(c, "gift_card", &row, &err), 0);
    assert_null(row);
    /* models: the newest ready one wins; failed ones are only status */
    int64_t id1 = 0, id2 = 0, latest = 0;
    struct store_nlu_model m = {.task = "intent",
                                .status = "ready",
                                .examples = 10,
                                .labels = 2,
                                .model_b64 = "AAEC",
                                .train_ms = 5,
                                .created_ms = now};
    assert_int_equal(store_nlu_model_insert(c, &m, &id1, &err), 0);
    m.status = "failed";
    m.model_b64 = NULL;
    m.error = "no examples";
    assert_int_equal(store_nlu_model_insert(c, &m, &id2, &err), 0);
    assert_true(id2 > id1);
    char *b64 = NULL;
    assert_int_equal(store_nlu_model_latest(c, "intent", &latest, &b64, &err), 0);
    assert_int_equal(latest, id1);
    assert_string_equal(b64, "AAEC");
    dk_free(b64);
    assert_int_equal(store_nlu_model_status(c, "intent", &row, &err), 0);
    assert_string_equal(json_string_value(json_object_get(row, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(row, "error")), "no examples");
    json_decref(row);
    assert_int_equal(store_nlu_model_latest(c, "sentiment", &latest, NULL, &err), 0);
    assert_int_equal(latest, 0);
    /* pruning keeps the newest rows of the task only */
    m.status = "ready";
    m.model_b64 = "AAEC";
    m.error = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(store_nlu_model_insert(c, &m, &id2, &err), 0);
    }
    m.task = "sentiment";
    assert_int_equal(store_nlu_model_insert(c, &m, &id1, &err), 0);
    assert_int_equal(store_nlu_model_prune(c, "intent", 3, &err), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM nlu_models WHERE task = 'intent'"),
                     3);
    assert_int_equal(
        dbtest_int(t->store, "SELECT count(*) FROM nlu_models WHERE task = 'sentiment'"), 1);
    assert_int_equal(store_nlu_model_latest(c, "intent", &latest, NULL, &err), 0);
    assert_int_equal(latest, id2);
    store_release(c);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_repo_users),
        T(test_store_repo_conversation_paging),
        T(test_store_repo_conversation_context),
        T(test_store_repo_message_history),
        T(test_store_repo_events_tokens_settings),
        T(test_store_repo_bulk_matches_single_rows),
        T(test_store_repo_nlu),
    };
    int failed = cmocka_run_group_tests_name("repo_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("repo_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
