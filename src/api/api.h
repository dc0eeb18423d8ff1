/*
 * api: the HTTP API: one file per resource, handlers only (parse → call the domain → render).
 * The route table is static (api_routes); the dispatcher in http/ does auth, body limits and
 * JSON parsing before a handler runs.
 */
#ifndef API_H
#define API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

/* What handlers reach through http_req_app(req). Filled by app/, read-only while serving. */
struct api_ctx {
    struct store *store;
    struct pipeline_ingest *ingest; /* NULL when this process does not take webhooks */
    struct pipeline_nlu *nlu;       /* the intent model in use */
    struct ai_router *router;       /* the AI providers */
    struct pipeline_gen *gen;       /* stores what AI calls gave */
    const struct pipeline_responder *responder;
    const struct nlu_model *sentiment_model; /* DIREKT_SENTIMENT_MODEL or NULL (lexicons) */
    const struct pipeline_ig_config *ig;     /* Instagram settings */
    struct ai_http *http;                    /* the outbound HTTP loop (Graph calls) */
    const char *app_secret;                  /* signs webhooks (configured or generated) */
    const char *verify_token;                /* IG_VERIFY_TOKEN or NULL */
    const char *static_token_sha256;         /* hash of DIREKT_API_TOKEN or NULL */
    int64_t started_ms;
};

extern const struct http_route api_routes[];
extern const size_t api_routes_count;

/* http_auth_fn: checks a bearer token against DIREKT_API_TOKEN and the api_tokens table. */
int api_auth(void *ctx, const char *token);

/* ---- shared by the handlers (api/common.c) ---- */
struct api_ctx *api_ctx(const struct http_req *req);
/* A connection for this request, or NULL after replying 503. Release with store_release. */
struct store_conn *api_conn(struct http_req *req);
/* The {id} parameter when it is a conversation id; replies 404 and returns NULL otherwise. */
const char *api_conversation_param(struct http_req *req);
/* Replies with err, or 500 when err has no code. */
void api_fail(struct http_req *req, const struct dk_err *err);
/* Bounded ?limit= (default dflt, 1..max) and ?cursor=; false after replying 422. */
bool api_page_args(struct http_req *req, int dflt, int max, int *limit, const char **cursor);
/* {"data": items, "next_cursor": …} — steals items and next (dk_free'd). */
void api_reply_page(struct http_req *req, json_t *items, char *next);

/* handlers */
void api_healthz(struct http_req *req);
void api_readyz(struct http_req *req);
void api_webhook_verify(struct http_req *req);
void api_webhook_receive(struct http_req *req);
void api_conversations_list(struct http_req *req);
void api_conversation_get(struct http_req *req);
void api_conversation_context_get(struct http_req *req);
void api_conversation_context_put(struct http_req *req);
void api_conversation_history(struct http_req *req);
void api_conversation_events(struct http_req *req);
void api_user_profile(struct http_req *req);
void api_user_preferences_put(struct http_req *req);
void api_user_conversation_history(struct http_req *req);
void api_agent_tasks_active(struct http_req *req);
void api_ai_analyze_sentiment(struct http_req *req);
void api_ai_extract_intent(struct http_req *req);
void api_ai_chat_completion(struct http_req *req);
void api_ai_models(struct http_req *req);
/* api/control.c: operators, pause/resume, delivery figures, comment rules */
void api_conversation_message_post(struct http_req *req);
void api_conversation_pause(struct http_req *req);
void api_conversation_resume(struct http_req *req);
void api_delivery_stats(struct http_req *req);
void api_comment_rules_list(struct http_req *req);
void api_comment_rule_create(struct http_req *req);
void api_comment_rule_delete(struct http_req *req);
void api_conversation_ai_reply(struct http_req *req);
/* OpenAI-style errors {"error":{message,type,param,code}} (ai_chat.c). */
void api_openai_error(struct http_req *req, int status, const char *type, const char *code,
                      const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void api_openai_failure(struct http_req *req, const struct ai_result *res);
void api_intents_list(struct http_req *req);
void api_intent_create(struct http_req *req);
void api_intent_get(struct http_req *req);
void api_intent_delete(struct http_req *req);
void api_intent_examples_add(struct http_req *req);
void api_intent_example_delete(struct http_req *req);
/* knowledge base and AI administration (knowledge.c, ai_admin.c) */
void api_knowledge_list(struct http_req *req);
void api_knowledge_create(struct http_req *req);
void api_knowledge_get(struct http_req *req);
void api_knowledge_put(struct http_req *req);
void api_knowledge_delete(struct http_req *req);
void api_ai_calls_list(struct http_req *req);
void api_ai_settings_get(struct http_req *req);
void api_ai_settings_put(struct http_req *req);
/* the connected Instagram accounts (accounts.c) */
void api_accounts_list(struct http_req *req);
/* An account id from outside: 1-64 of A-Z a-z 0-9 _ - . : (knowledge.c). */
bool api_account_id_valid(const char *s);

#endif
