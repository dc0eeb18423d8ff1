/*
 * instagram/policy: the send-policy engine (instagram-platform.md §0 facts 3–5).
 *
 * The rules are one table, read top to bottom: the first rule whose test holds decides the
 * message (REFUSE: never; DEFER: not now), and a message no rule stops is allowed. The order
 * is the contract in policy.h: the account's state first, then the conversation (bot only),
 * then Meta's windows, and last the "not now" rules (throttling, pacing) that only ever delay
 * a message that would otherwise go: a message some rule refuses is refused, never deferred.
 *
 * Decisions on the edges, all in the helpers below:
 *   - The windows include their end: a reply exactly 24 h (or 7 d) after the customer's last
 *     message is allowed, 1 ms later it is not.
 *   - A customer message stamped in the future (clock skew between Meta and us) counts as now.
 *     A timestamp ≤ 0 means the customer never wrote: no window is open.
 *   - A comment of unknown date (comment_created_ms ≤ 0) counts as fresh; one in the future
 *     counts as now.
 *   - A pause ends at bot_paused_until_ms; throttling ends at account_throttled_until_ms.
 *   - Pause, assignment and needs_human stop the bot's DM replies only. A person may always
 *     write (HUMAN), and the comment automation (PRIVATE_REPLY, COMMENT_REPLY) is governed by
 *     its own rules: the private reply is a separate, one-time channel started by the comment,
 *     not a reply in the paused DM thread.
 *   - COMMENT_REPLY (public) is not a DM: no messaging window applies to it.
 *   - HUMAN_AGENT is only ever stamped on a HUMAN message older than 24 h (never on a bot's,
 *     never within the standard window).
 *   - An account that needs re-authentication holds every message (DEFER, no time), even one a
 *     later rule would refuse: the later rules are decided when it is reconnected.
 * A kind outside enum ig_send_kind is a programming error (DK_ASSERT).
 */
#include "instagram/policy.h"

#include <stddef.h>

#include "core/log.h"

#define TAG_HUMAN_AGENT "HUMAN_AGENT"

/* ms since at, seen from now; a time in the future counts as now. */
static int64_t age_ms(int64_t now, int64_t at)
{
    return at >= now ? 0 : now - at;
}

static bool customer_wrote(const struct ig_policy_input *in)
{
    return in->last_user_message_ms > 0;
}

/* ms since the customer's last message; only meaningful when customer_wrote. */
static int64_t since_customer(const struct ig_policy_input *in)
{
    return age_ms(in->now_ms, in->last_user_message_ms);
}

/* ---- the rules' tests: true when the rule stops the message ---- */

static bool account_disabled(const struct ig_policy_input *in)
{
    return in->account_disabled;
}

static bool account_needs_reauth(const struct ig_policy_input *in)
{
    return in->account_needs_reauth;
}

static bool bot_paused(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_BOT && in->bot_paused_until_ms > in->now_ms;
}

static bool bot_assigned(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_BOT && in->assigned;
}

static bool bot_needs_human(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_BOT && in->needs_human;
}

static bool bot_outside_24h(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_BOT && (!customer_wrote(in) || since_customer(in) > IG_WINDOW_MS);
}

static bool human_outside_7d(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_HUMAN &&
           (!customer_wrote(in) || since_customer(in) > IG_HUMAN_AGENT_MS);
}

/* A person writing after the standard window: allowed (up to 7 d) only with HUMAN_AGENT. */
static bool human_past_24h(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_HUMAN && customer_wrote(in) && since_customer(in) > IG_WINDOW_MS;
}

static bool human_agent_off(const struct ig_policy_input *in)
{
    return human_past_24h(in) && !in->human_agent_enabled;
}

static bool private_reply_sent(const struct ig_policy_input *in)
{
    return in->kind == IG_SEND_PRIVATE_REPLY && in->comment_replied;
}

static bool private_reply_too_late(const struct ig_policy_input *in)
{
    if (in->kind != IG_SEND_PRIVATE_REPLY || in->comment_created_ms <= 0) {
        return false;
    }
    return age_ms(in->now_ms, in->comment_created_ms) > IG_PRIVATE_REPLY_MS;
}

static bool throttled(const struct ig_policy_input *in)
{
    return in->account_throttled_until_ms > in->now_ms;
}

static bool pacing(const struct ig_policy_input *in)
{
    return in->pace_wait_ms > 0;
}

/* ---- when a DEFER may try again ---- */

/* Re-authentication is done by an operator: no time is known (0). */
static int64_t until_reconnected(const struct ig_policy_input *in)
{
    (void)in;
    return 0;
}

static int64_t until_unthrottled(const struct ig_policy_input *in)
{
    return in->account_throttled_until_ms;
}

static int64_t until_paced(const struct ig_policy_input *in)
{
    return in->now_ms + in->pace_wait_ms;
}

struct rule {
    const char *id;
    enum ig_decision decision;
    const char *reason;
    bool (*stops)(const struct ig_policy_input *in);
    int64_t (*defer_until)(const struct ig_policy_input *in); /* DEFER rules only */
};

static const struct rule RULES[] = {
    {"account_disabled", IG_REFUSE, "skipped: account disabled", account_disabled, NULL},
    {"account_needs_reauth", IG_DEFER, "waiting: account needs re-authentication",
     account_needs_reauth, until_reconnected},
    {"bot_paused", IG_REFUSE, "skipped: bot paused in this conversation", bot_paused, NULL},
    {"assigned", IG_REFUSE, "skipped: conversation assigned to a person", bot_assigned, NULL},
    {"needs_human", IG_REFUSE, "skipped: conversation waits for a person", bot_needs_human, NULL},
    {"window_24h", IG_REFUSE, "skipped: outside the 24-hour window", bot_outside_24h, NULL},
    {"human_agent_7d", IG_REFUSE, "skipped: outside the 7-day human agent window", human_outside_7d,
     NULL},
    {"human_agent_disabled", IG_REFUSE,
     "skipped: HUMAN_AGENT is not enabled for this app (DIREKT_IG_HUMAN_AGENT)", human_agent_off,
     NULL},
    {"private_reply_once", IG_REFUSE, "skipped: this comment already has its private reply",
     private_reply_sent, NULL},
    {"private_reply_7d", IG_REFUSE, "skipped: comment is older than 7 days", private_reply_too_late,
     NULL},
    {"throttled", IG_DEFER, "waiting: Instagram is throttling this account", throttled,
     until_unthrottled},
    {"pacing", IG_DEFER, "waiting: send pacing", pacing, until_paced},
};

/* The tag an allowed message carries: HUMAN_AGENT for a person past the standard window. */
static const char *tag_for(const struct ig_policy_input *in)
{
    return human_past_24h(in) ? TAG_HUMAN_AGENT : NULL;
}

void ig_policy_decide(const struct ig_policy_input *in, struct ig_policy_result *out)
{
    DK_ASSERT(in->kind >= IG_SEND_BOT && in->kind <= IG_SEND_COMMENT_REPLY);
    *out = (struct ig_policy_result){.decision = IG_ALLOW};
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++) {
        const struct rule *r = &RULES[i];
        if (!r->stops(in)) {
            continue;
        }
        out->decision = r->decision;
        out->rule = r->id;
        out->reason = r->reason;
        out->defer_until_ms = r->defer_until != NULL ? r->defer_until(in) : 0;
        return;
    }
    out->tag = tag_for(in);
}
