/* Unit tests of the AI repositories (store/knowledge.c, store/ai_calls.c) on SQLite and on
 * PostgreSQL: the knowledge base (CRUD, paging, account filter, search), the ai_calls log
 * (batch insert, today's tokens across the UTC day boundary, listing, summary) and the
 * per-account AI settings with their fallback to '*'. */
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
#include "store/repo.h"

#define ACCT  "17841405822304914" /* digits: bound as an integer by the SQLite backend */
#define OTHER "acct-2"
#define T0    1764000000000LL /* 2025-11-24T16:00:00Z */
#define DAY   86400000LL

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* Creates an entry and returns its id. */
static int64_t kb_add(struct store_conn *c, const char *account, const char *question,
                      const char *answer, bool enabled)
{
    struct dk_err err = {0};
    struct store_knowledge k = {
        .account_id = account, .question = question, .answer = answer, .enabled = enabled};
    json_t *row = NULL;
    int rc = store_knowledge_create(c, &k, T0, &row, &err);
    if (rc != 0) {
        fail_msg("create: %s", err.msg);
    }
    int64_t id = num(row, "id");
    assert_true(id > 0);
    json_decref(row);
    return id;
}

static void test_store_ai_knowledge_crud(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    struct store_knowledge k = {.account_id = ACCT,
                                .kind = "faq",
                                .question = "Сколько стоит доставка?",
                                .answer = "Доставка стоит 300 ₽",
                                .tags_json = "[\"delivery\", \"цены\"]",
                                .enabled = true};
    json_t *row = NULL;
    assert_int_equal(store_knowledge_create(c, &k, T0, &row, &err), 0);
    int64_t id = num(row, "id");
    assert_string_equal(str(row, "account_id"), ACCT);
    assert_string_equal(str(row, "kind"), "faq");
    assert_string_equal(str(row, "answer"), "Доставка стоит 300 ₽");
    assert_string_equal(json_string_value(json_array_get(json_object_get(row, "tags"), 1)), "цены");
    assert_true(json_is_true(json_object_get(row, "enabled")));
    assert_string_equal(str(row, "created_at"), "2025-11-24T16:00:00.000Z");
    json_decref(row);

    /* only the fields named change; a NULL question clears it */
    struct store_knowledge ch = {.question = NULL, .enabled = false, .answer = "ignored"};
    assert_int_equal(store_knowledge_update(c, id, &ch, STORE_KB_QUESTION | STORE_KB_ENABLED,
                                            T0 + 1000, &row, &err),
                     0);
    assert_true(json_is_null(json_object_get(row, "question")));
    assert_false(json_is_true(json_object_get(row, "enabled")));
    assert_string_equal(str(row, "answer"), "Доставка стоит 300 ₽");
    assert_string_equal(str(row, "account_id"), ACCT);
    assert_string_equal(str(row, "updated_at"), "2025-11-24T16:00:01.000Z");
    json_decref(row);
    struct store_knowledge ch2 = {.account_id = NULL, .kind = "text", .tags_json = "[]"};
    assert_int_equal(store_knowledge_update(c, id, &ch2,
                                            STORE_KB_ACCOUNT | STORE_KB_KIND | STORE_KB_TAGS, T0,
                                            NULL, &err),
                     0);
    assert_int_equal(store_knowledge_get(c, id, &row, &err), 0);
    assert_true(json_is_null(json_object_get(row, "account_id")));
    assert_string_equal(str(row, "kind"), "text");
    assert_int_equal(json_array_size(json_object_get(row, "tags")), 0);
    json_decref(row);

    /* a missing kind defaults from the question */
    struct store_knowledge plain = {.answer = "free text", .enabled = true};
    assert_int_equal(store_knowledge_create(c, &plain, T0, &row, &err), 0);
    assert_string_equal(str(row, "kind"), "text");
    json_decref(row);

    assert_int_equal(store_knowledge_delete(c, id, &err), 0);
    assert_int_equal(store_knowledge_get(c, id, &row, &err), DK_ENOTFOUND);
    assert_int_equal(store_knowledge_delete(c, id, &err), DK_ENOTFOUND);
    assert_int_equal(store_knowledge_update(c, id, &ch, STORE_KB_ALL, T0, NULL, &err),
                     DK_ENOTFOUND);
    store_release(c);
}

/* Lists every page with limit and returns the ids joined by spaces. */
static void list_ids(struct store_conn *c, const char *account, const char *q, int limit, char *buf,
                     size_t cap, int *pages)
{
    struct dk_err err = {0};
    char *cursor = NULL;
    size_t o = 0;
    buf[0] = '\0';
    *pages = 0;
    do {
        json_t *items = NULL;
        char *next = NULL;
        int rc = store_knowledge_list(c, account, q, cursor, limit, &items, &next, &err);
        if (rc != 0) {
            fail_msg("list: %s", err.msg);
        }
        assert_true(json_array_size(items) <= (size_t)limit);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            o += (size_t)snprintf(buf + o, cap - o, "%s%lld", o ? " " : "",
                                  (long long)num(it, "id"));
        }
        json_decref(items);
        dk_free(cursor);
        cursor = next;
        (*pages)++;
    } while (cursor != NULL && *pages < 20);
}

static void test_store_ai_knowledge_paging(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    int64_t id[7];
    id[0] = kb_add(c, NULL, "Где вы?", "Москва, Тверская 1", true);
    id[1] = kb_add(c, ACCT, "Доставка?", "ДОСТАВКА по Москве 300 ₽", true);
    id[2] = kb_add(c, OTHER, NULL, "Shipping is FREE over 100%", true);
    id[3] = kb_add(c, NULL, "Returns?", "30 days", false);
    id[4] = kb_add(c, ACCT, NULL, "snake_case and 100 percent", true);
    id[5] = kb_add(c, OTHER, "Hours?", "10-20 every day", true);
    id[6] = kb_add(c, NULL, "Payment?", "Cards; see cashier", true);
    char want[256], got[256];
    int pages;
    snprintf(want, sizeof(want), "%lld %lld %lld %lld %lld %lld %lld", (long long)id[0],
             (long long)id[1], (long long)id[2], (long long)id[3], (long long)id[4],
             (long long)id[5], (long long)id[6]);
    list_ids(c, NULL, NULL, 3, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    assert_int_equal(pages, 3);
    list_ids(c, NULL, NULL, 7, got, sizeof(got), &pages);
    assert_int_equal(pages, 1); /* an exact fit has no further page */

    /* an account sees its entries and the global ones */
    snprintf(want, sizeof(want), "%lld %lld %lld %lld %lld", (long long)id[0], (long long)id[1],
             (long long)id[3], (long long)id[4], (long long)id[6]);
    list_ids(c, ACCT, NULL, 2, got, sizeof(got), &pages);
    assert_string_equal(got, want);

    /* ?q= ignores case, also in Cyrillic, and takes % _ \ literally */
    snprintf(want, sizeof(want), "%lld", (long long)id[1]);
    list_ids(c, NULL, "доставка ПО", 10, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    snprintf(want, sizeof(want), "%lld %lld", (long long)id[0], (long long)id[1]);
    list_ids(c, NULL, "москв", 10, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    snprintf(want, sizeof(want), "%lld", (long long)id[2]);
    list_ids(c, NULL, "100%", 10, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    snprintf(want, sizeof(want), "%lld", (long long)id[4]);
    list_ids(c, NULL, "e_c", 10, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    list_ids(c, NULL, "\\", 10, got, sizeof(got), &pages);
    assert_string_equal(got, "");
    snprintf(want, sizeof(want), "%lld", (long long)id[3]);
    list_ids(c, NULL, "returns", 10, got, sizeof(got), &pages); /* in the question */
    assert_string_equal(got, want);
    list_ids(c, OTHER, "доставка", 10, got, sizeof(got), &pages);
    assert_string_equal(got, "");

    /* the search text follows an update */
    struct store_knowledge ch = {.answer = "Доставка курьером"};
    assert_int_equal(store_knowledge_update(c, id[0], &ch, STORE_KB_ANSWER, T0, NULL, &err), 0);
    list_ids(c, NULL, "курьер", 10, got, sizeof(got), &pages);
    snprintf(want, sizeof(want), "%lld", (long long)id[0]);
    assert_string_equal(got, want);
    list_ids(c, NULL, "тверская", 10, got, sizeof(got), &pages);
    assert_string_equal(got, "");

    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(store_knowledge_list(c, NULL, NULL, "abc", 10, &items, &next, &err),
                     DK_EUNPROCESS);
    assert_int_equal(store_knowledge_list(c, NULL, NULL, "-5", 10, &items, &next, &err),
                     DK_EUNPROCESS);

    /* retrieval: enabled only, the account's and the global ones, bounded */
    struct store_kb_entry *all = NULL;
    size_t n = 0;
    assert_int_equal(store_knowledge_all(c, ACCT, 100, &all, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(all[0].id, id[0]);
    assert_int_equal(all[1].id, id[1]);
    assert_string_equal(all[1].question, "Доставка?");
    assert_null(all[2].question);
    assert_string_equal(all[2].answer, "snake_case and 100 percent");
    assert_int_equal(all[3].id, id[6]);
    store_kb_entries_free(all, n);
    assert_int_equal(store_knowledge_all(c, ACCT, 2, &all, &n, &err), 0);
    assert_int_equal(n, 2);
    store_kb_entries_free(all, n);
    assert_int_equal(store_knowledge_all(c, NULL, 100, &all, &n, &err), 0);
    assert_int_equal(n, 2); /* global and enabled */
    store_kb_entries_free(all, n);
    assert_int_equal(store_knowledge_all(c, "nobody", 0, &all, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(all);
    store_release(c);
}

static struct store_ai_call call(int64_t at, const char *account, const char *path,
                                 const char *outcome, int64_t in, int64_t out)
{
    return (struct store_ai_call){.created_ms = at,
                                  .task = "reply",
                                  .provider = "openai",
                                  .model = "gpt-4o-mini",
                                  .account_id = account,
                                  .path = path,
                                  .outcome = outcome,
                                  .http_status = 200,
                                  .latency_ms = 100,
                                  .first_token_ms = -1,
                                  .input_tokens = in,
                                  .output_tokens = out};
}

static void test_store_ai_tokens_today(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    int64_t midnight = (T0 / DAY + 1) * DAY; /* 2025-11-25T00:00:00Z */
    struct store_ai_call v[] = {
        call(midnight - 1, ACCT, "llm", "ok", 1000, 1),           /* yesterday's last ms */
        call(midnight, ACCT, "llm", "ok", 200, 20),               /* today's first */
        call(midnight + DAY / 2, ACCT, "llm", "retry", 3, 0),     /* failed but sent */
        call(midnight + DAY / 2, ACCT, "llm", "budget", 5000, 0), /* refused: not sent */
        call(midnight + DAY / 2, ACCT, "local", "ok", 7000, 0),   /* no provider */
        call(midnight + DAY / 2, OTHER, "llm", "ok", 9000, 0),
        call(midnight + DAY, ACCT, "llm", "ok", 40000, 0), /* tomorrow */
    };
    assert_int_equal(store_ai_calls_insert(c, v, sizeof(v) / sizeof(v[0]), &err), 0);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int(t->store, "SELECT COUNT(*) FROM ai_calls"), 7);
    int64_t tokens = -1;
    assert_int_equal(store_ai_tokens_today(c, ACCT, midnight + 3600000, &tokens, &err), 0);
    assert_int_equal(tokens, 223);
    assert_int_equal(store_ai_tokens_today(c, ACCT, midnight, &tokens, &err), 0);
    assert_int_equal(tokens, 223);
    assert_int_equal(store_ai_tokens_today(c, ACCT, midnight - 1, &tokens, &err), 0);
    assert_int_equal(tokens, 1001);
    assert_int_equal(store_ai_tokens_today(c, OTHER, midnight + 1, &tokens, &err), 0);
    assert_int_equal(tokens, 9000);
    assert_int_equal(store_ai_tokens_today(c, "nobody", midnight, &tokens, &err), 0);
    assert_int_equal(tokens, 0);
    assert_int_equal(store_ai_tokens_today(c, NULL, midnight, &tokens, &err), 0);
    assert_int_equal(tokens, 0);

    /* a bad row refuses the whole batch */
    struct store_ai_call bad[2] = {call(T0, ACCT, "llm", "ok", 1, 1),
                                   call(T0, ACCT, "llm", "ok", 1, 1)};
    bad[1].conversation_id = "not-a-uuid";
    assert_int_equal(store_ai_calls_insert(c, bad, 2, &err), DK_EINVAL);
    bad[1].conversation_id = NULL;
    bad[1].task = NULL;
    assert_int_equal(store_ai_calls_insert(c, bad, 2, &err), DK_EINVAL);
    assert_int_equal(store_ai_calls_insert(c, bad, 0, &err), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT COUNT(*) FROM ai_calls"), 7);
    store_release(c);
}

static void test_store_ai_call_list(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    const char *conv = "0190a5f2-7b3c-7def-8123-456789abcdef";
    struct store_ai_call v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = call(T0 + i * 1000, ACCT, "llm", i == 3 ? "retry" : "ok", 10 + i, 1);
        v[i].provider = i % 2 == 0 ? "openai" : "anthropic";
        v[i].task = i == 4 ? "summary" : "reply";
    }
    v[1].conversation_id = conv;
    v[1].first_token_ms = 42;
    v[1].redacted = true;
    v[3].error = "rate limited";
    v[3].http_status = 429;
    assert_int_equal(store_ai_calls_insert(c, v, 5, &err), 0);

    struct store_ai_call_filter none = {0};
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(store_ai_call_list(c, &none, NULL, 2, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    json_t *newest = json_array_get(items, 0);
    assert_string_equal(str(newest, "task"), "summary");
    assert_int_equal(num(newest, "input_tokens"), 14);
    assert_string_equal(str(newest, "created_at"), "2025-11-24T16:00:04.000Z");
    assert_true(json_is_null(json_object_get(newest, "first_token_ms")));
    assert_true(json_is_null(json_object_get(newest, "conversation_id")));
    assert_string_equal(str(json_array_get(items, 1), "error"), "rate limited");
    assert_int_equal(num(json_array_get(items, 1), "http_status"), 429);
    assert_non_null(next);
    json_decref(items);
    char *cursor = next;
    assert_int_equal(store_ai_call_list(c, &none, cursor, 2, &items, &next, &err), 0);
    dk_free(cursor);
    assert_int_equal(json_array_size(items), 2);
    json_t *second = json_array_get(items, 1);
    assert_string_equal(str(second, "conversation_id"), conv);
    assert_int_equal(num(second, "first_token_ms"), 42);
    assert_true(json_is_true(json_object_get(second, "redacted")));
    assert_string_equal(str(second, "model"), "gpt-4o-mini");
    json_decref(items);
    cursor = next;
    assert_int_equal(store_ai_call_list(c, &none, cursor, 2, &items, &next, &err), 0);
    dk_free(cursor);
    assert_int_equal(json_array_size(items), 1);
    assert_null(next);
    json_decref(items);

    struct store_ai_call_filter f = {.provider = "anthropic"};
    assert_int_equal(store_ai_call_list(c, &f, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    f = (struct store_ai_call_filter){.task = "reply", .provider = "openai"};
    assert_int_equal(store_ai_call_list(c, &f, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    f = (struct store_ai_call_filter){.conversation_id = conv, .account_id = ACCT};
    assert_int_equal(store_ai_call_list(c, &f, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    f = (struct store_ai_call_filter){.account_id = OTHER};
    assert_int_equal(store_ai_call_list(c, &f, NULL, 10, &items, &next, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    assert_null(next);
    json_decref(items);
    assert_int_equal(store_ai_call_list(c, &none, "x1", 10, &items, &next, &err), DK_EUNPROCESS);

    json_t *sum = NULL;
    assert_int_equal(store_ai_call_summary(c, NULL, 0, &sum, &err), 0);
    /* anthropic/ok (1), anthropic/retry (3), openai/ok (0, 2, 4) */
    assert_int_equal(json_array_size(sum), 3);
    json_t *s0 = json_array_get(sum, 0), *s1 = json_array_get(sum, 1), *s2 = json_array_get(sum, 2);
    assert_string_equal(str(s0, "provider"), "anthropic");
    assert_string_equal(str(s1, "outcome"), "retry");
    assert_string_equal(str(s2, "provider"), "openai");
    assert_int_equal(num(s2, "calls"), 3);
    assert_int_equal(num(s2, "input_tokens"), 10 + 12 + 14);
    assert_int_equal(num(s2, "output_tokens"), 3);
    assert_int_equal(num(s2, "max_latency_ms"), 100);
    assert_true(json_real_value(json_object_get(s2, "avg_latency_ms")) > 99.9);
    json_decref(sum);
    assert_int_equal(store_ai_call_summary(c, ACCT, T0 + 3500, &sum, &err), 0);
    assert_int_equal(json_array_size(sum), 1); /* the summary call at T0 + 4 s */
    json_decref(sum);
    store_release(c);
}

static void test_store_ai_settings(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    struct store_ai_settings s;
    assert_int_equal(store_ai_settings_get(c, ACCT, &s, &err), 0);
    assert_false(s.found);
    assert_null(s.system_prompt);
    assert_int_equal(s.daily_token_budget, -1);
    store_ai_settings_clear(&s);

    struct store_ai_settings_in dflt = {.system_prompt = "You are Anna's shop.",
                                        .tone = "friendly",
                                        .business_name = "Anna",
                                        .daily_token_budget = 50000};
    assert_int_equal(store_ai_settings_put(c, "*", &dflt, STORE_AIS_ALL, T0, &err), 0);
    assert_int_equal(store_ai_settings_get(c, ACCT, &s, &err), 0);
    assert_true(s.found);
    assert_string_equal(s.tone, "friendly");
    assert_int_equal(s.daily_token_budget, 50000);
    assert_int_equal(s.inherited, STORE_AIS_ALL);
    assert_int_equal(s.updated_ms, T0);
    store_ai_settings_clear(&s);

    /* the account sets its tone and a budget of 0 (unlimited); the rest still comes from '*' */
    struct store_ai_settings_in own = {.tone = "formal", .daily_token_budget = 0};
    assert_int_equal(
        store_ai_settings_put(c, ACCT, &own, STORE_AIS_TONE | STORE_AIS_BUDGET, T0 + 5, &err), 0);
    assert_int_equal(store_ai_settings_get(c, ACCT, &s, &err), 0);
    assert_string_equal(s.tone, "formal");
    assert_string_equal(s.business_name, "Anna");
    assert_string_equal(s.system_prompt, "You are Anna's shop.");
    assert_int_equal(s.daily_token_budget, 0);
    assert_int_equal(s.inherited, STORE_AIS_SYSTEM_PROMPT | STORE_AIS_BUSINESS_NAME);
    assert_int_equal(s.updated_ms, T0 + 5);
    store_ai_settings_clear(&s);

    /* a second put changes only what it names; clearing the tone inherits it again */
    struct store_ai_settings_in more = {.business_name = "Anna Moscow", .tone = "ignored"};
    assert_int_equal(store_ai_settings_put(c, ACCT, &more, STORE_AIS_BUSINESS_NAME, T0 + 6, &err),
                     0);
    struct store_ai_settings_in clear = {.tone = NULL};
    assert_int_equal(store_ai_settings_put(c, ACCT, &clear, STORE_AIS_TONE, T0 + 7, &err), 0);
    assert_int_equal(store_ai_settings_get(c, ACCT, &s, &err), 0);
    assert_string_equal(s.tone, "friendly");
    assert_string_equal(s.business_name, "Anna Moscow");
    assert_int_equal(s.daily_token_budget, 0);
    assert_int_equal(s.inherited, STORE_AIS_SYSTEM_PROMPT | STORE_AIS_TONE);
    store_ai_settings_clear(&s);

    /* '*' alone, and another account that has no row */
    assert_int_equal(store_ai_settings_get(c, "*", &s, &err), 0);
    assert_string_equal(s.business_name, "Anna");
    assert_int_equal(s.inherited, 0);
    store_ai_settings_clear(&s);
    assert_int_equal(store_ai_settings_get(c, OTHER, &s, &err), 0);
    assert_string_equal(s.business_name, "Anna");
    assert_int_equal(s.updated_ms, T0);
    store_ai_settings_clear(&s);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int(t->store, "SELECT COUNT(*) FROM ai_settings"), 2);
    store_release(c);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_ai_knowledge_crud), T(test_store_ai_knowledge_paging),
        T(test_store_ai_tokens_today),   T(test_store_ai_call_list),
        T(test_store_ai_settings),
    };
    int failed = cmocka_run_group_tests_name("store_ai_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("store_ai_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
