/*
 * pipeline/import: an account's message history through the Conversations API (`direkt
 * import`). One page of conversations at a time: the page is listed, each of its conversations'
 * messages fetched (Meta serves the 20 most recent), then everything is stored in one
 * transaction together with the next page's URL in the imports table, so a page is imported
 * whole or not at all and an interrupted import continues from the page it stopped at.
 *
 * The customer of a conversation is the participant that is not the account. Messages are
 * stored with their Instagram mid (webhooks and later imports then skip them); the customer's
 * as "imported" (the reply job answers only "received"), the account's as an agent's "sent".
 * Calls keep pace_ms apart (Meta allows 2 calls/s per account for this API); throttling,
 * transient errors and timeouts are retried with exponential backoff, a bounded number of
 * times; a refused token ends the import and marks the account needs_reauth. One import per
 * account at a time: a lease ("import:<account>") is taken at the start and renewed in each
 * page's transaction.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

#define IMPORT_PACE_MS    500
#define IMPORT_TIMEOUT_MS 30000
#define IMPORT_RETRIES    6
#define BACKOFF_BASE_MS   1000 /* transient: 1 s, 2 s, 4 s, …; throttled: twice that */
#define BACKOFF_MAX_MS    120000
#define IDS_MAX           100000             /* participants counted to recognise the account */
#define IMPORT_LEASE_MS   (30LL * 60 * 1000) /* one import per account; renewed with each page */

struct conv {
    char *id;
    json_t *messages; /* parsed, oldest first; NULL when the conversation was skipped */
};

struct run {
    struct ai_http *http;
    const struct pipeline_import_opts *o;
    struct pipeline_graph pg;
    int64_t pace_ms, timeout_ms;
    int retries;
    int64_t last_call; /* dk_mono_ms() of the last call's end, 0 before the first */
    struct pipeline_import_progress prog;
    char alias[257]; /* the account as the API names it in messages, when not its id */
    json_t *ids;     /* id -> how many conversations of this run it takes part in */
    char lease[96];  /* "import:<account>", held by this run */
    char holder[48];
};

static void report(struct run *r, bool page_done)
{
    if (r->o->progress != NULL) {
        r->prog.page_done = page_done;
        r->o->progress(r->o->progress_arg, &r->prog);
    }
}

static int64_t backoff_ms(enum ig_outcome outcome, int attempt)
{
    int64_t ms = outcome == IG_THROTTLED ? 2 * BACKOFF_BASE_MS : BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && ms < BACKOFF_MAX_MS; i++) {
        ms *= 2;
    }
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* One GET with pacing and retries. 0 when the Graph answered success (*body new), else -1 with
 * res telling why (after the retries). */
static int graph_get(struct run *r, const struct ig_request *req, struct ig_result *res,
                     char **body)
{
    for (int attempt = 0;; attempt++) {
        int64_t wait = r->last_call > 0 ? r->last_call + r->pace_ms - dk_mono_ms() : 0;
        if (wait > 0) {
            dk_sleep_ms(wait);
        }
        *body = NULL;
        pipeline_graph_call(r->http, req, r->timeout_ms, res, body, NULL);
        r->last_call = dk_mono_ms();
        bool again = res->outcome == IG_THROTTLED || res->outcome == IG_RETRY ||
                     (res->outcome == IG_UNCERTAIN && res->http_status == 0);
        if (res->outcome == IG_OK || (res->outcome == IG_UNCERTAIN && !again)) {
            return 0; /* a 2xx: the parser decides whether it is a usable answer */
        }
        dk_free(*body);
        *body = NULL;
        char reason[512];
        ig_result_reason(res, reason, sizeof(reason));
        if (!again || attempt >= r->retries) {
            return -1;
        }
        int64_t ms = backoff_ms(res->outcome, attempt);
        DK_WARN("import of account %s: %s: retrying in %lld ms (%d of %d)", r->pg.account_id,
                reason, (long long)ms, attempt + 1, r->retries);
        dk_sleep_ms(ms);
    }
}

/* Ends the run on a Graph failure (what was being done, for the message). */
static void graph_failure(struct run *r, const struct ig_result *res, const char *what,
                          struct pipeline_import_result *out, struct dk_err *err)
{
    char reason[512];
    ig_result_reason(res, reason, sizeof(reason));
    if (res->outcome == IG_TOKEN) {
        out->end = PIPELINE_IMPORT_TOKEN;
        bool own = r->pg.known && r->pg.acct.token_enc != NULL;
        dk_err_set(err, DK_EAUTH,
                   "the access token of account %s was refused while %s: %s; %s, then run the "
                   "import again to continue",
                   r->pg.account_id, what, reason,
                   own ? "connect the account again (direkt account add)"
                       : "set a valid IG_ACCESS_TOKEN or connect the account (direkt account add)");
    } else {
        out->end = PIPELINE_IMPORT_FAILED;
        dk_err_set(err, DK_EIO,
                   "could not import account %s while %s: %s; run the import again to continue",
                   r->pg.account_id, what, reason);
    }
}

/* The conversation's messages (*out new, oldest first), or *out NULL when Meta refuses this one
 * conversation (it is skipped). -1 when the import must stop (res tells why). */
static int fetch_conversation(struct run *r, const char *id, json_t **out, struct ig_result *res)
{
    *out = NULL;
    struct ig_request req;
    struct dk_err perr = {0};
    if (ig_build_conversation_messages(&r->pg.g, id, &req, &perr) != 0) {
        DK_WARN("import of account %s: skipped conversation %.64s: %s", r->pg.account_id, id,
                perr.msg);
        return 0;
    }
    char *body = NULL;
    int rc = graph_get(r, &req, res, &body);
    ig_request_clear(&req);
    if (rc != 0) {
        if (res->outcome == IG_TOKEN || res->outcome == IG_THROTTLED || res->outcome == IG_RETRY ||
            res->outcome == IG_UNCERTAIN) {
            return -1;
        }
        char reason[512];
        DK_WARN("import of account %s: skipped conversation %.64s: %s", r->pg.account_id, id,
                ig_result_reason(res, reason, sizeof(reason)));
        return 0;
    }
    if (ig_parse_conversation_messages(body, strlen(body), out, &perr) != 0) {
        DK_WARN("import of account %s: skipped conversation %.64s: %s", r->pg.account_id, id,
                perr.msg);
    }
    dk_free(body);
    return 0;
}

static bool is_account(const struct run *r, const char *id)
{
    return strcmp(id, r->pg.account_id) == 0 || (r->alias[0] != '\0' && strcmp(id, r->alias) == 0);
}

/* The customer of a conversation: the participant that is not the account. */
static const char *customer_of(const struct run *r, const json_t *msgs)
{
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *from = dk_json_str(m, "from_id"), *to = dk_json_str(m, "to_id");
        if (from != NULL && to != NULL && is_account(r, from) != is_account(r, to)) {
            return is_account(r, from) ? to : from;
        }
    }
    return NULL;
}

/* Counts, per id, the conversations of this run it takes part in (bounded). */
static void count_ids(struct run *r, const json_t *msgs)
{
    json_t *mine = json_object();
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *ids[2] = {dk_json_str(m, "from_id"), dk_json_str(m, "to_id")};
        for (size_t k = 0; k < 2; k++) {
            if (ids[k] != NULL) {
                json_object_set_new(mine, ids[k], json_true());
            }
        }
    }
    const char *id;
    json_t *v;
    json_object_foreach(mine, id, v)
    {
        json_int_t n = json_integer_value(json_object_get(r->ids, id));
        if (n > 0 || json_object_size(r->ids) < IDS_MAX) {
            json_object_set_new(r->ids, id, json_integer(n + 1));
        }
    }
    json_decref(mine);
}

/* When the API names the account by another id (an app-scoped one: instagram-platform.md §1),
 * a conversation has no message with the account's id. The account takes part in every
 * conversation and a customer in one, so the other name is the participant of such a
 * conversation that was seen in more than one conversation of this run. */
static void learn_alias(struct run *r, const struct conv *cv, size_t n)
{
    for (size_t i = 0; i < n && r->alias[0] == '\0'; i++) {
        if (cv[i].messages == NULL || customer_of(r, cv[i].messages) != NULL) {
            continue;
        }
        const json_t *m = json_array_get(cv[i].messages, 0);
        const char *cand[2] = {dk_json_str(m, "from_id"), dk_json_str(m, "to_id")};
        for (size_t k = 0; k < 2 && r->alias[0] == '\0'; k++) {
            if (cand[k] != NULL && json_integer_value(json_object_get(r->ids, cand[k])) > 1) {
                snprintf(r->alias, sizeof(r->alias), "%s", cand[k]);
                DK_INFO("import of account %s: the conversations api names the account %s",
                        r->pg.account_id, r->alias);
            }
        }
    }
}

/* Stores one conversation's messages in the caller's transaction; *seen counts its messages
 * and *added the new ones among them. */
static int store_conversation(struct store_conn *c, struct run *r, const char *conv_id,
                              const json_t *msgs, int64_t *seen, int64_t *added, struct dk_err *err)
{
    const char *customer = customer_of(r, msgs);
    if (customer == NULL) {
        if (json_array_size(msgs) > 0) {
            DK_WARN("import of account %s: skipped conversation %.64s: no message between the "
                    "account and one customer",
                    r->pg.account_id, conv_id);
        }
        return 0;
    }
    int64_t now = dk_now_ms(), user_id = 0, last_customer = 0;
    char conv[STORE_ID_LEN];
    bool created;
    int rc = store_user_ensure(c, customer, now, &user_id, err);
    if (rc == 0) {
        rc = store_conversation_ensure(c, user_id, r->pg.account_id, now, conv, &created, err);
    }
    const char *username = NULL;
    for (size_t i = 0; rc == 0 && i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *from = dk_json_str(m, "from_id");
        bool mine = from != NULL && is_account(r, from);
        if (!mine && (from == NULL || strcmp(from, customer) != 0)) {
            continue; /* a third party: not this conversation's pair */
        }
        int64_t at = 0;
        dk_json_int(m, "created_ms", &at);
        const char *text = dk_json_str(m, "text");
        struct store_message sm = {.conversation_id = conv,
                                   .instagram_mid = dk_json_str(m, "mid"),
                                   .sender_type = mine ? "agent" : "user",
                                   .message_type = text != NULL ? "text" : "unsupported",
                                   .content = text,
                                   .metadata = "{\"source\":\"import\"}",
                                   .status = mine ? "sent" : "imported",
                                   .created_ms = at};
        bool inserted = false;
        rc = store_message_insert(c, &sm, &inserted, err);
        *seen += 1;
        *added += inserted ? 1 : 0;
        if (!mine) {
            last_customer = at > last_customer ? at : last_customer;
            const char *u = dk_json_str(m, "from_username");
            username = u != NULL && u[0] != '\0' ? u : username;
        }
    }
    if (rc == 0 && last_customer > 0) {
        rc = store_conversation_customer_activity(c, conv, last_customer, now, err);
    }
    if (rc == 0 && username != NULL) {
        rc = store_user_update_profile(c, user_id, NULL, username, NULL, 0, now, err);
    }
    return rc;
}

/* Stores a page's conversations and the position after it in one transaction: *seen and
 * *added count the page's messages and the new ones. */
static int save_page(struct store *s, struct run *r, const struct conv *cv, size_t n,
                     const char *next_url, bool finished, int64_t *seen, int64_t *added,
                     struct dk_err *err)
{
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return err != NULL && err->code != 0 ? err->code : DK_EUNAVAIL;
    }
    int64_t msgs = 0, fresh = 0;
    bool held = false;
    int rc = store_begin(c, err);
    if (rc == 0) {
        rc = queue_lease(c, r->lease, r->holder, IMPORT_LEASE_MS, &held, err);
    }
    if (rc == 0 && !held) {
        rc = dk_err_set(err, DK_EBUSY, "another import of account %s took over", r->pg.account_id);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (cv[i].messages != NULL) {
            rc = store_conversation(c, r, cv[i].id, cv[i].messages, &msgs, &fresh, err);
        }
    }
    int64_t now = dk_now_ms();
    if (rc == 0) {
        rc = store_import_progress(c, r->pg.account_id, next_url, (int64_t)n, msgs, now, err);
    }
    if (rc == 0 && finished) {
        rc = store_import_finish(c, r->pg.account_id, "done", NULL, now, err);
    }
    if (rc == 0) {
        rc = store_commit(c, err);
    } else if (store_in_tx(c)) {
        store_rollback(c);
    }
    store_release(c);
    *seen = rc == 0 ? msgs : 0;
    *added = rc == 0 ? fresh : 0;
    return rc;
}

static void free_convs(struct conv *cv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dk_free(cv[i].id);
        json_decref(cv[i].messages);
    }
    dk_free(cv);
}

/* Records a failed run in the imports row and, when the token was refused, marks a known
 * account needs_reauth (one short transaction). */
static void record_failure(struct store *s, const struct run *r, bool token, const char *msg)
{
    struct dk_err ferr = {0};
    struct store_conn *c = store_acquire(s, &ferr);
    int64_t now = dk_now_ms();
    int rc = c != NULL ? store_begin(c, &ferr) : ferr.code;
    if (rc == 0) {
        rc = store_import_finish(c, r->pg.account_id, "failed", msg, now, &ferr);
    }
    if (rc == 0 && token && r->pg.known) {
        rc = store_account_set_status(c, r->pg.account_id, "needs_reauth", msg, now, &ferr);
    }
    if (rc == 0) {
        rc = store_commit(c, &ferr);
    } else if (c != NULL && store_in_tx(c)) {
        store_rollback(c);
    }
    if (rc != 0) {
        DK_WARN("could not record the failed import of account %s: %s", r->pg.account_id, ferr.msg);
    }
    store_release(c);
}

/* One page: list, fetch, store. *next is the page after it (new or NULL); *end is set when
 * the run must stop (a Graph failure: err filled). */
static int import_page(struct store *s, struct run *r, const char *url, char **next, bool *stop,
                       struct pipeline_import_result *out, struct dk_err *err)
{
    *next = NULL;
    struct ig_request req;
    struct dk_err perr = {0};
    int rc = ig_build_conversations(&r->pg.g, url, &req, &perr);
    if (rc != 0) {
        out->end = PIPELINE_IMPORT_FAILED;
        dk_err_set(err, DK_EINVAL,
                   "could not import account %s: %s (--restart imports from the first page)",
                   r->pg.account_id, perr.msg);
        *stop = true;
        return 0;
    }
    struct ig_result res;
    char *body = NULL;
    rc = graph_get(r, &req, &res, &body);
    ig_request_clear(&req);
    if (rc != 0) {
        graph_failure(r, &res, "listing conversations", out, err);
        *stop = true;
        return 0;
    }
    json_t *ids = NULL;
    char *raw_next = NULL;
    rc = ig_parse_conversations(body, strlen(body), &ids, &raw_next, &perr);
    dk_free(body);
    if (rc != 0) {
        out->end = PIPELINE_IMPORT_FAILED;
        dk_err_set(err, DK_EIO, "could not import account %s: %s", r->pg.account_id, perr.msg);
        *stop = true;
        return 0;
    }
    /* the next page as it will be requested: without a token in its query, on our host */
    if (raw_next != NULL) {
        struct ig_request nreq;
        if (ig_build_conversations(&r->pg.g, raw_next, &nreq, &perr) == 0) {
            *next = dk_strdup(nreq.url);
        } else {
            DK_WARN("import of account %s: not following the next page (%s): this page is "
                    "taken as the last one",
                    r->pg.account_id, perr.msg);
        }
        ig_request_clear(&nreq);
        dk_free(raw_next);
    }
    size_t n = json_array_size(ids);
    int64_t limit = r->o->limit_conversations;
    bool limited = false;
    if (limit > 0 && r->prog.conversations + (int64_t)n >= limit) {
        int64_t room = limit - r->prog.conversations;
        n = room > 0 ? (size_t)room : 0;
        limited = true;
    }
    r->prog.listed += (int64_t)json_array_size(ids);
    struct conv *cv = dk_calloc(n > 0 ? n : 1, sizeof(*cv));
    size_t got = 0;
    for (; got < n; got++) {
        cv[got].id = dk_strdup(json_string_value(json_array_get(ids, got)));
        if (fetch_conversation(r, cv[got].id, &cv[got].messages, &res) != 0) {
            graph_failure(r, &res, "reading a conversation", out, err);
            *stop = true;
            break;
        }
        if (cv[got].messages != NULL) {
            count_ids(r, cv[got].messages);
        }
        r->prog.conversations++;
        report(r, false);
    }
    json_decref(ids);
    if (*stop) {
        r->prog.conversations -= (int64_t)got; /* the page is fetched again next time */
        free_convs(cv, got + 1);
        return 0;
    }
    learn_alias(r, cv, n);
    bool finished = limited || *next == NULL;
    int64_t seen = 0, added = 0;
    rc = save_page(s, r, cv, n, finished ? NULL : *next, finished, &seen, &added, err);
    free_convs(cv, n);
    if (rc != 0) {
        return rc;
    }
    r->prog.messages += seen;
    out->new_messages += added;
    report(r, true);
    if (finished) {
        dk_free(*next);
        *next = NULL;
    }
    return 0;
}

/* Takes (held true) or gives back the account's import lease. DK_EBUSY when another import of
 * the account holds it. */
static int lease(struct store *s, struct run *r, bool take, struct dk_err *err)
{
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return err != NULL && err->code != 0 ? err->code : DK_EUNAVAIL;
    }
    bool held = false;
    int rc = take ? queue_lease(c, r->lease, r->holder, IMPORT_LEASE_MS, &held, err)
                  : queue_lease_release(c, r->lease, r->holder, err);
    store_release(c);
    if (rc == 0 && take && !held) {
        rc = dk_err_set(err, DK_EBUSY, "an import of account %s is running already",
                        r->pg.account_id);
    }
    return rc;
}

/* Where to start: the imports row, begun again when new or restarted. */
static int start(struct store *s, const char *account_id, bool restart, struct store_import *im,
                 struct dk_err *err)
{
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return err != NULL && err->code != 0 ? err->code : DK_EUNAVAIL;
    }
    int rc = store_import_load(c, account_id, im, err);
    if (rc == 0 && (!im->found || restart)) {
        rc = store_import_begin(c, account_id, dk_now_ms(), err);
        store_import_clear(im);
        im->found = true;
        snprintf(im->status, sizeof(im->status), "running");
    }
    store_release(c);
    return rc;
}

int pipeline_import_run(struct store *s, struct ai_http *http, const struct pipeline_ig_config *cfg,
                        const struct pipeline_import_opts *o, struct pipeline_import_result *out,
                        struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    struct run r = {.http = http,
                    .o = o,
                    .pace_ms = o->pace_ms > 0 ? o->pace_ms : IMPORT_PACE_MS,
                    .timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : IMPORT_TIMEOUT_MS,
                    .retries = o->max_retries > 0 ? o->max_retries : IMPORT_RETRIES,
                    .ids = json_object()};
    struct dk_err e = {0};
    struct store_conn *c = store_acquire(s, &e);
    int rc = c != NULL ? pipeline_graph_for(c, cfg, o->account_id, &r.pg, &e) : e.code;
    store_release(c);
    if (rc == 0 && r.pg.dry_run) {
        rc = dk_err_set(&e, DK_ECONFLICT,
                        "no access token for account %s: connect it with direkt account add "
                        "(or set IG_ACCESS_TOKEN)",
                        o->account_id);
    }
    struct store_import im = {.found = false};
    snprintf(r.lease, sizeof(r.lease), "import:%s", r.pg.account_id);
    char uuid[37];
    dk_uuid_v7(uuid);
    snprintf(r.holder, sizeof(r.holder), "import-%s", uuid);
    bool leased = false;
    if (rc == 0) {
        rc = lease(s, &r, true, &e);
        leased = rc == 0;
    }
    if (rc == 0) {
        rc = start(s, o->account_id, o->restart, &im, &e);
    }
    if (rc == 0 && strcmp(im.status, "done") == 0) {
        out->end = PIPELINE_IMPORT_ALREADY;
        out->conversations = im.conversations;
        out->messages = im.messages;
    } else if (rc == 0) {
        r.prog = (struct pipeline_import_progress){.conversations = im.conversations,
                                                   .listed = im.conversations,
                                                   .messages = im.messages,
                                                   .limit = o->limit_conversations};
        report(&r, true);
        char *url = im.next_url != NULL ? dk_strdup(im.next_url) : NULL;
        bool stop = false;
        do {
            char *next = NULL;
            rc = import_page(s, &r, url, &next, &stop, out, &e);
            dk_free(url);
            url = next;
        } while (rc == 0 && !stop && url != NULL);
        dk_free(url);
        if (rc == 0 && stop) {
            record_failure(s, &r, out->end == PIPELINE_IMPORT_TOKEN, e.msg);
        }
        out->conversations = r.prog.conversations;
        out->messages = r.prog.messages;
    }
    struct dk_err lerr = {0};
    if (leased && lease(s, &r, false, &lerr) != 0) {
        DK_WARN("could not give back the import lease of account %s: %s", r.pg.account_id,
                lerr.msg);
    }
    store_import_clear(&im);
    pipeline_graph_clear(&r.pg);
    json_decref(r.ids);
    if (err != NULL && (rc != 0 || e.code != 0)) {
        *err = e;
    }
    return rc;
}
