/* Unit tests of the sender's repositories (store/outbox.c, store/comments.c) on SQLite and on
 * PostgreSQL: the outbox order and its guarded status moves, echo reconciliation, delivery
 * figures, reaction feedback, pause/resume, one private reply per comment and keyword rules;
 * and the comment keyword matcher (pipeline/comments.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"
#include "dbtest.h"
#include "pipeline/pipeline.h"
#include "store/repo.h"

#define ACCT "17841405822304914"
#define CUST "5981206525237013"
#define T0   1764000000000LL

static void new_conv(struct store_conn *c, const char *customer, char conv[STORE_ID_LEN])
{
    struct dk_err err = {0};
    int64_t uid = 0;
    bool created = false;
    assert_int_equal(store_user_ensure(c, customer, T0, &uid, &err), 0);
    assert_int_equal(store_conversation_ensure(c, uid, ACCT, T0, conv, &created, &err), 0);
}

static void add_msg(struct store_conn *c, const char *conv, const char *sender, const char *text,
                    const char *status, int64_t at, char id[STORE_ID_LEN])
{
    struct dk_err err = {0};
    struct store_message m = {.conversation_id = conv,
                              .sender_type = sender,
                              .content = text,
                              .status = status,
                              .created_ms = at};
    bool inserted = false;
    assert_int_equal(store_message_insert(c, &m, &inserted, &err), 0);
    assert_true(inserted);
    if (id != NULL) {
        memcpy(id, m.id, STORE_ID_LEN);
    }
}

static void test_outbox_order_and_moves(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN], a[STORE_ID_LEN], b[STORE_ID_LEN], other[STORE_ID_LEN];
    new_conv(c, CUST, conv);
    add_msg(c, conv, "user", "hi", "received", T0, NULL);
    add_msg(c, conv, "bot", "second", "pending_send", T0 + 2, b);
    add_msg(c, conv, "agent", "first", "pending_send", T0 + 1, a);
    add_msg(c, conv, "bot", "old", "sent", T0, NULL);

    struct store_outbox_msg m;
    bool found = false;
    assert_int_equal(store_outbox_next(c, conv, &m, &found, &err), 0);
    assert_true(found);
    assert_string_equal(m.id, a);
    assert_string_equal(m.sender_type, "agent");
    assert_string_equal(m.recipient, CUST);
    assert_string_equal(m.content, "first");
    assert_int_equal(m.created_ms, T0 + 1);
    store_outbox_msg_clear(&m);

    /* a move is guarded by the status it leaves */
    bool moved = false;
    assert_int_equal(store_outbox_set(c, a, "pending_send", "sending", NULL, "{\"send\":{}}", NULL,
                                      &moved, &err),
                     0);
    assert_true(moved);
    assert_int_equal(
        store_outbox_set(c, a, "pending_send", "sending", NULL, NULL, NULL, &moved, &err), 0);
    assert_false(moved);
    /* in flight, it is still the conversation's next */
    assert_int_equal(store_outbox_next(c, conv, &m, &found, &err), 0);
    assert_string_equal(m.id, a);
    assert_string_equal(m.status, "sending");
    assert_non_null(strstr(m.metadata, "send"));
    store_outbox_msg_clear(&m);
    assert_int_equal(store_outbox_set(c, a, "sending", "sent", NULL, NULL, "mid-a", &moved, &err),
                     0);
    assert_true(moved);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT COUNT(*) FROM messages WHERE id = $1 AND "
                                 "instagram_mid = 'mid-a' AND status = 'sent'",
                                 a),
                     1);
    /* a mid already on another message is not taken */
    add_msg(c, conv, "agent", "from the app", "sent", T0 + 5, other);
    assert_int_equal(store_outbox_set(c, other, "sent", "sent", NULL, NULL, "mid-b", &moved, &err),
                     0);
    assert_int_equal(
        store_outbox_set(c, b, "pending_send", "sent", NULL, NULL, "mid-b", &moved, &err), 0);
    assert_true(moved);
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT COUNT(*) FROM messages WHERE id = $1 AND "
                                 "instagram_mid IS NULL AND status = 'sent'",
                                 b),
                     1);
    assert_int_equal(store_outbox_next(c, conv, &m, &found, &err), 0);
    assert_false(found);
    store_release(c);
}

static void test_outbox_reconcile_echo(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN], a[STORE_ID_LEN], b[STORE_ID_LEN];
    new_conv(c, CUST, conv);
    add_msg(c, conv, "bot", "Thanks!", "pending_send", T0, a);
    add_msg(c, conv, "bot", "12345", "sending", T0 + 1, b);
    bool matched = true;
    /* a message not yet in flight is not an echo's */
    assert_int_equal(store_outbox_reconcile_echo(c, conv, "e1", "Thanks!", &matched, &err), 0);
    assert_false(matched);
    /* digits only: the text compares as text on both backends */
    assert_int_equal(store_outbox_reconcile_echo(c, conv, "e2", "12345", &matched, &err), 0);
    assert_true(matched);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int1(t->store,
                                 "SELECT COUNT(*) FROM messages WHERE id = $1 AND "
                                 "instagram_mid = 'e2' AND status = 'sent'",
                                 b),
                     1);
    /* the same echo again finds nothing in flight */
    assert_int_equal(store_outbox_reconcile_echo(c, conv, "e2", "12345", &matched, &err), 0);
    assert_false(matched);
    store_release(c);
}

static void test_outbox_stats_feedback(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN], a[STORE_ID_LEN];
    new_conv(c, CUST, conv);
    add_msg(c, conv, "bot", "x", "pending_send", T0, a);
    assert_int_equal(store_outbox_set(c, a, "pending_send", "skipped",
                                      "skipped: outside the 24-hour window",
                                      "{\"policy\":{\"rule\":\"window_24h\"}}", NULL, NULL, &err),
                     0);
    add_msg(c, conv, "bot", "y", "sent", T0 + 1, NULL);
    add_msg(c, conv, "user", "z", "received", T0 + 2, NULL);
    json_t *st = NULL;
    assert_int_equal(store_outbox_stats(c, NULL, &st, &err), 0);
    json_t *by = json_object_get(st, "by_status");
    assert_int_equal(json_integer_value(json_object_get(by, "skipped")), 1);
    assert_int_equal(json_integer_value(json_object_get(by, "sent")), 1);
    assert_null(json_object_get(by, "received")); /* customers' messages are not counted */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(st, "refused_by_rule"), "window_24h")),
        1);
    json_decref(st);
    assert_int_equal(store_outbox_stats(c, "another-account", &st, &err), 0);
    assert_int_equal(json_object_size(json_object_get(st, "by_status")), 0);
    json_decref(st);

    /* feedback */
    struct store_message m = {.conversation_id = conv,
                              .instagram_mid = "bot-mid",
                              .sender_type = "bot",
                              .content = "hello",
                              .status = "sent",
                              .metadata = "{\"k\":1}",
                              .created_ms = T0 + 3};
    bool ins, found = false;
    assert_int_equal(store_message_insert(c, &m, &ins, &err), 0);
    assert_int_equal(
        store_message_set_feedback(c, "bot-mid", "{\"reaction\":\"love\"}", &found, &err), 0);
    assert_true(found);
    json_t *row = NULL;
    assert_int_equal(store_message_get(c, m.id, &row, &err), 0);
    json_t *meta = json_object_get(row, "metadata");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "feedback"), "reaction")), "love");
    assert_int_equal(json_integer_value(json_object_get(meta, "k")), 1);
    json_decref(row);
    assert_int_equal(store_message_set_feedback(c, "bot-mid", NULL, &found, &err), 0);
    assert_int_equal(store_message_get(c, m.id, &row, &err), 0);
    assert_null(json_object_get(json_object_get(row, "metadata"), "feedback"));
    json_decref(row);
    assert_int_equal(store_message_set_feedback(c, "no-such", NULL, &found, &err), 0);
    assert_false(found);
    store_release(c);
}

static void test_conversation_pause_status(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN];
    new_conv(c, CUST, conv);
    assert_int_equal(store_conversation_pause(c, conv, T0 + 60000, T0, &err), 0);
    struct store_conversation cv;
    assert_int_equal(store_conversation_load(c, conv, &cv, &err), 0);
    assert_int_equal(cv.paused_until, T0 + 60000);
    assert_string_equal(cv.customer_id, CUST);
    store_conversation_clear(&cv);
    assert_int_equal(store_conversation_pause(c, conv, 0, T0, &err), 0);
    assert_int_equal(store_conversation_set_status(c, conv, "needs_human", T0, &err), 0);
    assert_int_equal(store_conversation_load(c, conv, &cv, &err), 0);
    assert_int_equal(cv.paused_until, 0);
    assert_string_equal(cv.status, "needs_human");
    store_conversation_clear(&cv);
    assert_int_equal(
        store_conversation_pause(c, "01a21c43-0000-7000-8000-000000000000", 1, T0, &err),
        DK_ENOTFOUND);
    assert_int_equal(store_conversation_set_status(c, "not-a-uuid", "x", T0, &err), DK_ENOTFOUND);
    store_release(c);
}

static void test_comment_claims_and_rules(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char conv[STORE_ID_LEN], a[STORE_ID_LEN], b[STORE_ID_LEN], owner[STORE_ID_LEN];
    new_conv(c, CUST, conv);
    add_msg(c, conv, "bot", "price list", "pending_send", T0, a);
    add_msg(c, conv, "bot", "price list", "pending_send", T0, b);
    assert_int_equal(store_comment_reply_owner(c, "17865799348089039", owner, &err), 0);
    assert_string_equal(owner, "");
    bool claimed = false;
    assert_int_equal(
        store_comment_reply_claim(c, "17865799348089039", ACCT, conv, a, 0, T0, &claimed, &err), 0);
    assert_true(claimed);
    assert_int_equal(
        store_comment_reply_claim(c, "17865799348089039", ACCT, conv, b, 0, T0, &claimed, &err), 0);
    assert_false(claimed);
    assert_int_equal(store_comment_reply_owner(c, "17865799348089039", owner, &err), 0);
    assert_string_equal(owner, a);

    int64_t r1 = 0, r2 = 0;
    assert_int_equal(store_comment_rule_add(c, NULL, "PRICE", "Our prices: …", NULL, &r1, &err), 0);
    assert_int_equal(store_comment_rule_add(c, "other", "SALE", "Sale!", "See DM", &r2, &err), 0);
    assert_true(r2 > r1 && r1 > 0);
    json_t *rules = NULL;
    assert_int_equal(store_comment_rule_list(c, ACCT, &rules, &err), 0);
    assert_int_equal(json_array_size(rules), 1); /* the rule for every account only */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 0), "keyword")),
                        "PRICE");
    assert_true(json_is_true(json_object_get(json_array_get(rules, 0), "enabled")));
    json_decref(rules);
    assert_int_equal(store_comment_rule_list(c, NULL, &rules, &err), 0);
    assert_int_equal(json_array_size(rules), 2);
    json_decref(rules);
    bool found = false;
    assert_int_equal(store_comment_rule_delete(c, r1, &found, &err), 0);
    assert_true(found);
    assert_int_equal(store_comment_rule_delete(c, r1, &found, &err), 0);
    assert_false(found);
    store_release(c);
}

static void test_comment_keyword_match(void **state)
{
    (void)state;
    assert_true(pipeline_comment_matches("PRICE", "PRICE"));
    assert_true(pipeline_comment_matches("price", "What's the PRICE?"));
    assert_true(pipeline_comment_matches("цена", "Какая ЦЕНА?"));
    assert_true(pipeline_comment_matches("*", "anything"));
    assert_true(pipeline_comment_matches("#sale", "love this #sale!"));
    assert_false(pipeline_comment_matches("price", "priceless"));
    assert_false(pipeline_comment_matches("price", "overprice"));
    assert_false(pipeline_comment_matches("price", NULL));
    assert_false(pipeline_comment_matches("", "price"));
    assert_false(pipeline_comment_matches("цена", "бесценная"));
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_outbox_order_and_moves),   T(test_outbox_reconcile_echo),
        T(test_outbox_stats_feedback),    T(test_conversation_pause_status),
        T(test_comment_claims_and_rules),
    };
    const struct CMUnitTest pure[] = {cmocka_unit_test(test_comment_keyword_match)};
    int failed = cmocka_run_group_tests_name("comment_match", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_outbox_sqlite", tests, dbtest_group_sqlite,
                                          dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("store_outbox_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
