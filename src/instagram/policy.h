/*
 * instagram/policy: the one place that decides whether a message may go out to Instagram now
 * (instagram-platform.md §0 facts 3–8), and the per-account pacing of sends.
 *
 * ig_policy_decide is pure: every fact it needs is in struct ig_policy_input, so the rules can
 * be read and tested in one file. Its answer is ALLOW (with the tag to use), REFUSE (a rule
 * says never: the message is stored as skipped with the rule and its reason) or DEFER (not now:
 * try again at defer_until; the message keeps waiting).
 */
#ifndef INSTAGRAM_POLICY_H
#define INSTAGRAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IG_WINDOW_MS        (24LL * 3600 * 1000)     /* the standard messaging window */
#define IG_HUMAN_AGENT_MS   (7LL * 24 * 3600 * 1000) /* HUMAN_AGENT: a person, up to 7 days */
#define IG_PRIVATE_REPLY_MS (7LL * 24 * 3600 * 1000) /* a comment's private reply: 7 days */

enum ig_send_kind {
    IG_SEND_BOT = 1,       /* an automated reply (bot, template, LLM) in a DM conversation */
    IG_SEND_HUMAN,         /* a person's message (operator through the API) */
    IG_SEND_PRIVATE_REPLY, /* a DM to a commenter (recipient.comment_id); bot or person */
    IG_SEND_COMMENT_REPLY, /* a public reply under a comment */
};

enum ig_decision { IG_ALLOW = 0, IG_REFUSE, IG_DEFER };

struct ig_policy_input {
    enum ig_send_kind kind;
    int64_t now_ms;
    /* the conversation */
    int64_t last_user_message_ms; /* 0: the customer never wrote */
    int64_t bot_paused_until_ms;  /* 0: not paused */
    bool assigned;                /* assigned to a person */
    bool needs_human;             /* status needs_human (or closed) */
    /* the account */
    bool account_needs_reauth;
    bool account_disabled;
    int64_t account_throttled_until_ms; /* 0: not throttled */
    bool human_agent_enabled;           /* the business has the Human Agent feature */
    /* a private reply */
    int64_t comment_created_ms; /* 0: unknown (treated as now) */
    bool comment_replied;       /* a private reply to this comment exists already */
    /* pacing: ms to wait for the account's send budget (ig_pace_take), 0 = now */
    int64_t pace_wait_ms;
};

struct ig_policy_result {
    enum ig_decision decision;
    const char *rule;       /* static: "window_24h", "human_agent_7d", "human_agent_disabled",
                               "bot_paused", "assigned", "needs_human", "private_reply_once",
                               "private_reply_7d", "account_needs_reauth", "account_disabled",
                               "throttled", "pacing"; NULL on ALLOW */
    const char *reason;     /* static, for people: "skipped: outside the 24-hour window" */
    const char *tag;        /* ALLOW: "HUMAN_AGENT" or NULL */
    int64_t defer_until_ms; /* DEFER: when to try again */
};

/* The rules, in this order:
 *   account disabled → REFUSE; account needs re-authentication → DEFER (sends pause until an
 *   operator reconnects it, by hand: defer_until 0);
 *   BOT in a paused / assigned / needs_human conversation → REFUSE;
 *   BOT: more than 24 h since the customer's last message (or never) → REFUSE;
 *   HUMAN: ≤ 24 h → ALLOW untagged; 24 h – 7 d → ALLOW with HUMAN_AGENT when enabled, else
 *   REFUSE (human_agent_disabled); > 7 d or never → REFUSE (human_agent_7d);
 *   PRIVATE_REPLY: already replied → REFUSE; comment older than 7 d → REFUSE;
 *   then, for anything allowed: account throttled → DEFER until then; pace_wait_ms > 0 → DEFER.
 * Pure; any thread. */
void ig_policy_decide(const struct ig_policy_input *in, struct ig_policy_result *out);

/* Pacing: a token bucket per account (rate sends per second, burst = max(1, rate)), in this
 * process. Thread-safe. It tracks at most IG_PACE_MAX_ACCOUNTS accounts: beyond that, idle
 * (full) buckets are forgotten first, else the least recently used one (which then starts full
 * again). */
#define IG_PACE_MAX_ACCOUNTS 10000
struct ig_pace;
/* New (free with ig_pace_free); a rate below 1 (or NaN) is taken as 1. */
struct ig_pace *ig_pace_new(double rate_per_s);
void ig_pace_free(struct ig_pace *p);
/* Takes one send from account's bucket: returns 0 when it may go now (the token is taken), else
 * the ms to wait, ≥ 1 (nothing taken). now_ms: a monotonic clock (dk_mono_ms). Any thread. */
int64_t ig_pace_take(struct ig_pace *p, const char *account_id, int64_t now_ms);
/* How many accounts' buckets are held now (≤ IG_PACE_MAX_ACCOUNTS). Any thread. */
size_t ig_pace_count(struct ig_pace *p);

#endif
