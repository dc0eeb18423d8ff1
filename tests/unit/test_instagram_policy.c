/*
 * Unit tests for instagram/policy: the send-policy rules (each refusal with its rule and
 * reason, their boundaries and their order) and the per-account pacing bucket.
 *
 * Policy cases are tables of inputs and the expected answer; the reasons are spelled out here
 * rather than taken from the code, so a change in what people read fails a test.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "instagram/policy.h"

#define NOW  1800000000000LL /* a wall-clock time in ms (2027) */
#define HOUR (3600LL * 1000)
#define DAY  (24 * HOUR)

#define R_DISABLED "skipped: account disabled"
#define R_REAUTH   "waiting: account needs re-authentication"
#define R_PAUSED   "skipped: bot paused in this conversation"
#define R_ASSIGNED "skipped: conversation assigned to a person"
#define R_NEEDS    "skipped: conversation waits for a person"
#define R_24H      "skipped: outside the 24-hour window"
#define R_7D       "skipped: outside the 7-day human agent window"
#define R_HA_OFF   "skipped: HUMAN_AGENT is not enabled for this app (DIREKT_IG_HUMAN_AGENT)"
#define R_ONCE     "skipped: this comment already has its private reply"
#define R_PR_7D    "skipped: comment is older than 7 days"
#define R_THROTTLE "waiting: Instagram is throttling this account"
#define R_PACING   "waiting: send pacing"

struct policy_case {
    const char *name;
    struct ig_policy_input in;
    struct ig_policy_result want; /* defer_until_ms is compared on DEFER only */
};

/* The expected answers (a struct ig_policy_result's fields, in order). */
#define ALLOWED                      IG_ALLOW, NULL, NULL, NULL, 0
#define TAGGED                       IG_ALLOW, NULL, NULL, "HUMAN_AGENT", 0
#define REFUSED(rule, reason)        IG_REFUSE, rule, reason, NULL, 0
#define DEFERRED(rule, reason, when) IG_DEFER, rule, reason, NULL, when

static const char *decision_name(enum ig_decision d)
{
    return d == IG_ALLOW ? "allow" : d == IG_REFUSE ? "refuse" : "defer";
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static const char *or_null(const char *s)
{
    return s != NULL ? s : "(null)";
}

static void run_cases(const struct policy_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct policy_case *c = &cases[i];
        const struct ig_policy_result *w = &c->want;
        struct ig_policy_result r;
        memset(&r, 0x5a, sizeof(r)); /* every field must be written */
        ig_policy_decide(&c->in, &r);
        if (r.decision != w->decision || !same_str(r.rule, w->rule) ||
            !same_str(r.reason, w->reason) || !same_str(r.tag, w->tag) ||
            (w->decision == IG_DEFER && r.defer_until_ms != w->defer_until_ms)) {
            fail_msg("case \"%s\": got %s rule=%s reason=\"%s\" tag=%s defer_until=%lld; "
                     "want %s rule=%s reason=\"%s\" tag=%s defer_until=%lld",
                     c->name, decision_name(r.decision), or_null(r.rule), or_null(r.reason),
                     or_null(r.tag), (long long)r.defer_until_ms, decision_name(w->decision),
                     or_null(w->rule), or_null(w->reason), or_null(w->tag),
                     (long long)w->defer_until_ms);
        }
    }
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ---- policy: one group per rule ---- */

static void test_instagram_policy_window_24h(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"bot 1 h after the customer",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .last_user_message_ms = NOW - HOUR},
         {ALLOWED}},
        {"bot 24 h exactly",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .last_user_message_ms = NOW - DAY},
         {ALLOWED}},
        {"bot 24 h + 1 ms",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .last_user_message_ms = NOW - DAY - 1},
         {REFUSED("window_24h", R_24H)}},
        {"bot, customer never wrote",
         {.kind = IG_SEND_BOT, .now_ms = NOW},
         {REFUSED("window_24h", R_24H)}},
        {"bot, customer's message stamped in the future (skew)",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .last_user_message_ms = NOW + HOUR},
         {ALLOWED}},
        {"bot 3 days, HUMAN_AGENT enabled: never for a bot",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 3 * DAY,
          .human_agent_enabled = true},
         {REFUSED("window_24h", R_24H)}},
        {"bot within 24 h, HUMAN_AGENT enabled: untagged",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 23 * HOUR,
          .human_agent_enabled = true},
         {ALLOWED}},
    };
    RUN(cases);
}

static void test_instagram_policy_human_agent(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"person within 24 h: untagged",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .human_agent_enabled = true},
         {ALLOWED}},
        {"person 24 h exactly: still the standard window, untagged",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - DAY,
          .human_agent_enabled = true},
         {ALLOWED}},
        {"person 24 h exactly, HUMAN_AGENT off: allowed",
         {.kind = IG_SEND_HUMAN, .now_ms = NOW, .last_user_message_ms = NOW - DAY},
         {ALLOWED}},
        {"person 24 h + 1 ms, enabled: tagged",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - DAY - 1,
          .human_agent_enabled = true},
         {TAGGED}},
        {"person 24 h + 1 ms, not enabled",
         {.kind = IG_SEND_HUMAN, .now_ms = NOW, .last_user_message_ms = NOW - DAY - 1},
         {REFUSED("human_agent_disabled", R_HA_OFF)}},
        {"person 7 d exactly, enabled: tagged",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 7 * DAY,
          .human_agent_enabled = true},
         {TAGGED}},
        {"person 7 d + 1 ms, enabled",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 7 * DAY - 1,
          .human_agent_enabled = true},
         {REFUSED("human_agent_7d", R_7D)}},
        {"person 7 d + 1 ms, not enabled: the 7-day rule comes first",
         {.kind = IG_SEND_HUMAN, .now_ms = NOW, .last_user_message_ms = NOW - 7 * DAY - 1},
         {REFUSED("human_agent_7d", R_7D)}},
        {"person, customer never wrote",
         {.kind = IG_SEND_HUMAN, .now_ms = NOW, .human_agent_enabled = true},
         {REFUSED("human_agent_7d", R_7D)}},
        {"person, customer's message in the future: untagged",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW + DAY,
          .human_agent_enabled = true},
         {ALLOWED}},
    };
    RUN(cases);
}

static void test_instagram_policy_conversation(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"bot, paused",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .bot_paused_until_ms = NOW + 1},
         {REFUSED("bot_paused", R_PAUSED)}},
        {"bot, pause ends now",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .bot_paused_until_ms = NOW},
         {ALLOWED}},
        {"bot, pause ended",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .bot_paused_until_ms = NOW - HOUR},
         {ALLOWED}},
        {"bot, assigned",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .last_user_message_ms = NOW - HOUR, .assigned = true},
         {REFUSED("assigned", R_ASSIGNED)}},
        {"bot, needs a person",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .needs_human = true},
         {REFUSED("needs_human", R_NEEDS)}},
        {"person, paused, assigned and needs_human: a person may always write",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .bot_paused_until_ms = NOW + DAY,
          .assigned = true,
          .needs_human = true},
         {ALLOWED}},
        {"private reply in a paused, assigned conversation: the comment automation",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .bot_paused_until_ms = NOW + DAY,
          .assigned = true,
          .needs_human = true,
          .comment_created_ms = NOW - HOUR},
         {ALLOWED}},
        {"public comment reply in a paused conversation",
         {.kind = IG_SEND_COMMENT_REPLY,
          .now_ms = NOW,
          .bot_paused_until_ms = NOW + DAY,
          .assigned = true,
          .needs_human = true},
         {ALLOWED}},
    };
    RUN(cases);
}

static void test_instagram_policy_private_reply(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"fresh comment, customer never wrote a DM: no DM window",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW, .comment_created_ms = NOW - HOUR},
         {ALLOWED}},
        {"already replied",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .comment_created_ms = NOW - HOUR,
          .comment_replied = true},
         {REFUSED("private_reply_once", R_ONCE)}},
        {"comment 7 d exactly",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW, .comment_created_ms = NOW - 7 * DAY},
         {ALLOWED}},
        {"comment 7 d + 1 ms",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW, .comment_created_ms = NOW - 7 * DAY - 1},
         {REFUSED("private_reply_7d", R_PR_7D)}},
        {"comment of unknown date: fresh",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW},
         {ALLOWED}},
        {"comment in the future (skew)",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW, .comment_created_ms = NOW + DAY},
         {ALLOWED}},
        {"replied and too old: once comes first",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .comment_created_ms = NOW - 30 * DAY,
          .comment_replied = true},
         {REFUSED("private_reply_once", R_ONCE)}},
        {"never tagged, even with HUMAN_AGENT and an old DM",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 3 * DAY,
          .human_agent_enabled = true,
          .comment_created_ms = NOW - HOUR},
         {ALLOWED}},
    };
    RUN(cases);
}

static void test_instagram_policy_comment_reply(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"public reply, customer never wrote a DM",
         {.kind = IG_SEND_COMMENT_REPLY, .now_ms = NOW},
         {ALLOWED}},
        {"public reply, old DM and old comment",
         {.kind = IG_SEND_COMMENT_REPLY,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 30 * DAY,
          .comment_created_ms = NOW - 30 * DAY,
          .comment_replied = true},
         {ALLOWED}},
        {"public reply, account disabled",
         {.kind = IG_SEND_COMMENT_REPLY, .now_ms = NOW, .account_disabled = true},
         {REFUSED("account_disabled", R_DISABLED)}},
        {"public reply, throttled",
         {.kind = IG_SEND_COMMENT_REPLY, .now_ms = NOW, .account_throttled_until_ms = NOW + 5},
         {DEFERRED("throttled", R_THROTTLE, NOW + 5)}},
    };
    RUN(cases);
}

static void test_instagram_policy_account(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"disabled",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_disabled = true},
         {REFUSED("account_disabled", R_DISABLED)}},
        {"disabled, person",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_disabled = true},
         {REFUSED("account_disabled", R_DISABLED)}},
        {"needs re-authentication: waits for an operator (no time)",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_needs_reauth = true},
         {DEFERRED("account_needs_reauth", R_REAUTH, 0)}},
        {"needs re-authentication, private reply",
         {.kind = IG_SEND_PRIVATE_REPLY, .now_ms = NOW, .account_needs_reauth = true},
         {DEFERRED("account_needs_reauth", R_REAUTH, 0)}},
    };
    RUN(cases);
}

static void test_instagram_policy_defer(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"throttled: until then",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_throttled_until_ms = NOW + 60000},
         {DEFERRED("throttled", R_THROTTLE, NOW + 60000)}},
        {"throttling ends now",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_throttled_until_ms = NOW},
         {ALLOWED}},
        {"throttling ended",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_throttled_until_ms = NOW - 1},
         {ALLOWED}},
        {"pacing: after the wait",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .pace_wait_ms = 200},
         {DEFERRED("pacing", R_PACING, NOW + 200)}},
        {"tagged person, throttled: deferred, the tag is decided again later",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 2 * DAY,
          .human_agent_enabled = true,
          .account_throttled_until_ms = NOW + 1000},
         {DEFERRED("throttled", R_THROTTLE, NOW + 1000)}},
        {"private reply, paced",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .comment_created_ms = NOW - HOUR,
          .pace_wait_ms = 1},
         {DEFERRED("pacing", R_PACING, NOW + 1)}},
    };
    RUN(cases);
}

/* The first rule that holds decides; refusals beat the "not now" rules. */
static void test_instagram_policy_order(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        {"disabled beats the window",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .account_disabled = true},
         {REFUSED("account_disabled", R_DISABLED)}},
        {"disabled beats re-authentication and throttling",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_disabled = true,
          .account_needs_reauth = true,
          .account_throttled_until_ms = NOW + 1000,
          .pace_wait_ms = 10},
         {REFUSED("account_disabled", R_DISABLED)}},
        {"re-authentication holds even a message the window would refuse",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 2 * DAY,
          .bot_paused_until_ms = NOW + HOUR,
          .account_needs_reauth = true},
         {DEFERRED("account_needs_reauth", R_REAUTH, 0)}},
        {"paused beats assigned, needs_human and the window",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .bot_paused_until_ms = NOW + HOUR,
          .assigned = true,
          .needs_human = true},
         {REFUSED("bot_paused", R_PAUSED)}},
        {"assigned beats needs_human and the window",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .assigned = true, .needs_human = true},
         {REFUSED("assigned", R_ASSIGNED)}},
        {"needs_human beats the window",
         {.kind = IG_SEND_BOT, .now_ms = NOW, .needs_human = true},
         {REFUSED("needs_human", R_NEEDS)}},
        {"throttled bot outside the window: refused, not deferred",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - DAY - 1,
          .account_throttled_until_ms = NOW + 1000,
          .pace_wait_ms = 10},
         {REFUSED("window_24h", R_24H)}},
        {"throttled person without HUMAN_AGENT: refused",
         {.kind = IG_SEND_HUMAN,
          .now_ms = NOW,
          .last_user_message_ms = NOW - 2 * DAY,
          .account_throttled_until_ms = NOW + 1000},
         {REFUSED("human_agent_disabled", R_HA_OFF)}},
        {"paced private reply already sent: refused",
         {.kind = IG_SEND_PRIVATE_REPLY,
          .now_ms = NOW,
          .comment_replied = true,
          .pace_wait_ms = 10},
         {REFUSED("private_reply_once", R_ONCE)}},
        {"throttled beats pacing",
         {.kind = IG_SEND_BOT,
          .now_ms = NOW,
          .last_user_message_ms = NOW - HOUR,
          .account_throttled_until_ms = NOW + 1000,
          .pace_wait_ms = 10},
         {DEFERRED("throttled", R_THROTTLE, NOW + 1000)}},
    };
    RUN(cases);
}

/* ---- pacing ---- */

#define T0 5000000LL /* a monotonic clock, ms */

static void test_instagram_pace_burst_then_wait(void **state)
{
    (void)state;
    struct ig_pace *p = ig_pace_new(5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ig_pace_take(p, "acct", T0), 0);
    }
    int64_t w = ig_pace_take(p, "acct", T0);
    assert_true(w >= 195 && w <= 200);
    assert_int_equal(ig_pace_take(p, "acct", T0), w); /* a refused take takes nothing */
    assert_true(ig_pace_take(p, "acct", T0 + w - 1) >= 1);
    assert_int_equal(ig_pace_take(p, "acct", T0 + w), 0);
    assert_true(ig_pace_take(p, "acct", T0 + w) > 0);
    ig_pace_free(p);
}

static void test_instagram_pace_refill(void **state)
{
    (void)state;
    struct ig_pace *p = ig_pace_new(5);
    int taken = 0;
    while (ig_pace_take(p, "acct", T0) == 0) {
        taken++;
    }
    assert_int_equal(taken, 5);
    /* 400 ms refill two sends */
    taken = 0;
    while (ig_pace_take(p, "acct", T0 + 400) == 0) {
        taken++;
    }
    assert_int_equal(taken, 2);
    /* an hour idle refills no more than the burst */
    taken = 0;
    while (ig_pace_take(p, "acct", T0 + 3600 * 1000) == 0) {
        taken++;
    }
    assert_int_equal(taken, 5);
    /* a clock going backwards only makes the caller wait */
    assert_true(ig_pace_take(p, "acct", T0) > 0);
    ig_pace_free(p);
}

static void test_instagram_pace_rates(void **state)
{
    (void)state;
    /* below 1: taken as 1 (burst 1, one a second) */
    struct ig_pace *p = ig_pace_new(0.2);
    assert_int_equal(ig_pace_take(p, "a", T0), 0);
    assert_int_equal(ig_pace_take(p, "a", T0), 1000);
    ig_pace_free(p);
    /* 2.5/s: burst 2, one every 400 ms */
    p = ig_pace_new(2.5);
    assert_int_equal(ig_pace_take(p, "a", T0), 0);
    assert_int_equal(ig_pace_take(p, "a", T0), 0);
    assert_int_equal(ig_pace_take(p, "a", T0), 400);
    ig_pace_free(p);
    /* 100/s: one every 10 ms after a burst of 100 */
    p = ig_pace_new(100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ig_pace_take(p, "a", T0), 0);
    }
    assert_int_equal(ig_pace_take(p, "a", T0), 10);
    assert_int_equal(ig_pace_take(p, "a", T0 + 10), 0);
    ig_pace_free(p);
}

static void test_instagram_pace_accounts_independent(void **state)
{
    (void)state;
    struct ig_pace *p = ig_pace_new(2);
    assert_int_equal(ig_pace_take(p, "17841400000000001", T0), 0);
    assert_int_equal(ig_pace_take(p, "17841400000000001", T0), 0);
    assert_true(ig_pace_take(p, "17841400000000001", T0) > 0);
    assert_int_equal(ig_pace_take(p, "17841400000000002", T0), 0);
    assert_int_equal(ig_pace_take(p, "17841400000000002", T0), 0);
    assert_true(ig_pace_take(p, "17841400000000002", T0) > 0);
    assert_int_equal(ig_pace_take(p, "17841400000000000", T0), 0);
    assert_int_equal(ig_pace_count(p), 3);
    ig_pace_free(p);
}

#define THREADS 4

struct taker {
    pthread_t t;
    struct ig_pace *p;
    int id;
    bool rising; /* the clock runs 0 … 999 ms instead of standing */
    atomic_int *taken;
};

static void *take_many(void *arg)
{
    struct taker *tk = arg;
    char other[32];
    for (int i = 0; i < 4000; i++) {
        int64_t now = T0 + (tk->rising ? i / 4 : 0);
        if (ig_pace_take(tk->p, "shared", now) == 0) {
            atomic_fetch_add(tk->taken, 1);
        }
        /* new accounts appear while others take: the map grows under the lock */
        snprintf(other, sizeof(other), "t%d-%d", tk->id, i % 64);
        (void)ig_pace_take(tk->p, other, now);
    }
    return NULL;
}

static int take_concurrently(bool rising)
{
    struct ig_pace *p = ig_pace_new(5);
    atomic_int taken;
    atomic_init(&taken, 0);
    struct taker tk[THREADS];
    for (int i = 0; i < THREADS; i++) {
        tk[i] = (struct taker){.p = p, .id = i, .rising = rising, .taken = &taken};
        assert_int_equal(pthread_create(&tk[i].t, NULL, take_many, &tk[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tk[i].t, NULL);
    }
    assert_int_equal(ig_pace_count(p), 1 + THREADS * 64);
    ig_pace_free(p);
    return atomic_load(&taken);
}

static void test_instagram_pace_threads(void **state)
{
    (void)state;
    /* a standing clock: exactly the burst, however the threads interleave */
    assert_int_equal(take_concurrently(false), 5);
    /* 999 ms: the burst plus at most one send per 200 ms */
    int n = take_concurrently(true);
    assert_true(n >= 5 && n <= 9);
}

static void take_each(struct ig_pace *p, const char *prefix, int from, int to, int64_t now)
{
    char id[32];
    for (int i = from; i < to; i++) {
        snprintf(id, sizeof(id), "%s%05d", prefix, i);
        assert_int_equal(ig_pace_take(p, id, now), 0);
    }
}

static void test_instagram_pace_eviction(void **state)
{
    (void)state;
    struct ig_pace *p = ig_pace_new(1);
    /* idle buckets go first: a busy account keeps its wait */
    take_each(p, "idle", 0, IG_PACE_MAX_ACCOUNTS - 1, T0);
    assert_int_equal(ig_pace_take(p, "busy", T0 + 4999), 0);
    assert_int_equal(ig_pace_count(p), IG_PACE_MAX_ACCOUNTS);
    assert_int_equal(ig_pace_take(p, "new", T0 + 5000), 0);
    assert_int_equal(ig_pace_count(p), 2);
    assert_int_equal(ig_pace_take(p, "busy", T0 + 5000), 999);
    ig_pace_free(p);

    /* nothing idle: the least recently used goes (a refused take counts as use) */
    p = ig_pace_new(1);
    assert_int_equal(ig_pace_take(p, "first", T0), 0);
    take_each(p, "next", 0, IG_PACE_MAX_ACCOUNTS - 1, T0 + 1);
    assert_int_equal(ig_pace_count(p), IG_PACE_MAX_ACCOUNTS);
    assert_true(ig_pace_take(p, "first", T0 + 2) > 0);
    take_each(p, "more", 0, 100, T0 + 3);
    assert_int_equal(ig_pace_count(p), IG_PACE_MAX_ACCOUNTS);
    assert_true(ig_pace_take(p, "first", T0 + 3) > 0);         /* kept: used at T0 + 2 */
    assert_true(ig_pace_take(p, "more00099", T0 + 3) > 0);     /* kept */
    assert_true(ig_pace_take(p, "next00100", T0 + 3) > 0);     /* kept */
    assert_int_equal(ig_pace_take(p, "next00000", T0 + 3), 0); /* forgotten: starts full */
    assert_int_equal(ig_pace_count(p), IG_PACE_MAX_ACCOUNTS);
    ig_pace_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instagram_policy_window_24h),
        cmocka_unit_test(test_instagram_policy_human_agent),
        cmocka_unit_test(test_instagram_policy_conversation),
        cmocka_unit_test(test_instagram_policy_private_reply),
        cmocka_unit_test(test_instagram_policy_comment_reply),
        cmocka_unit_test(test_instagram_policy_account),
        cmocka_unit_test(test_instagram_policy_defer),
        cmocka_unit_test(test_instagram_policy_order),
        cmocka_unit_test(test_instagram_pace_burst_then_wait),
        cmocka_unit_test(test_instagram_pace_refill),
        cmocka_unit_test(test_instagram_pace_rates),
        cmocka_unit_test(test_instagram_pace_accounts_independent),
        cmocka_unit_test(test_instagram_pace_threads),
        cmocka_unit_test(test_instagram_pace_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
