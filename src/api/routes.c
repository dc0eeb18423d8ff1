/* api/routes: the route table: every endpoint, its handler, auth and body limit. */
#include "api/api.h"

#define KIB 1024u

const struct http_route api_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0, 0},
    {HTTP_GET, "/readyz", api_readyz, 0, 0},
    {HTTP_GET, "/webhooks/instagram/messages", api_webhook_verify, 0, 0},
    {HTTP_POST, "/webhooks/instagram/messages", api_webhook_receive, 0, 1024 * KIB},
    {HTTP_GET, "/api/v1/conversations", api_conversations_list, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/conversations/{id}", api_conversation_get, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/conversations/{id}/context", api_conversation_context_get, HTTP_AUTH, 0},
    {HTTP_PUT, "/api/v1/conversations/{id}/context", api_conversation_context_put,
     HTTP_AUTH | HTTP_JSON, 64 * KIB},
    {HTTP_GET, "/api/v1/conversations/{id}/history", api_conversation_history, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/conversations/{id}/events", api_conversation_events, HTTP_AUTH, 0},
    /* an operator's text ≤ 8,000 bytes, attachment URL ≤ 2 KiB, 13 quick replies */
    {HTTP_POST, "/api/v1/conversations/{id}/messages", api_conversation_message_post,
     HTTP_AUTH | HTTP_JSON, 64 * KIB},
    {HTTP_POST, "/api/v1/conversations/{id}/pause", api_conversation_pause, HTTP_AUTH | HTTP_JSON,
     4 * KIB},
    {HTTP_POST, "/api/v1/conversations/{id}/resume", api_conversation_resume, HTTP_AUTH | HTTP_JSON,
     4 * KIB},
    {HTTP_GET, "/api/v1/delivery/stats", api_delivery_stats, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/comment-rules", api_comment_rules_list, HTTP_AUTH, 0},
    {HTTP_POST, "/api/v1/comment-rules", api_comment_rule_create, HTTP_AUTH | HTTP_JSON, 16 * KIB},
    {HTTP_DELETE, "/api/v1/comment-rules/{id}", api_comment_rule_delete, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/users/{instagram_id}/profile", api_user_profile, HTTP_AUTH, 0},
    {HTTP_PUT, "/api/v1/users/{id}/preferences", api_user_preferences_put, HTTP_AUTH | HTTP_JSON,
     64 * KIB},
    {HTTP_GET, "/api/v1/users/{id}/conversation-history", api_user_conversation_history, HTTP_AUTH,
     0},
    {HTTP_GET, "/api/v1/agent/tasks/active", api_agent_tasks_active, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/accounts", api_accounts_list, HTTP_AUTH, 0},
    /* the text limit (64 KiB) is checked by the handlers; the body may carry JSON escapes */
    {HTTP_POST, "/api/v1/ai/analyze-sentiment", api_ai_analyze_sentiment, HTTP_AUTH | HTTP_JSON,
     512 * KIB},
    {HTTP_POST, "/api/v1/ai/extract-intent", api_ai_extract_intent, HTTP_AUTH | HTTP_JSON,
     512 * KIB},
    {HTTP_POST, "/api/v1/ai/chat-completion", api_ai_chat_completion, HTTP_AUTH | HTTP_JSON,
     2048 * KIB},
    /* the path OpenAI's clients call under the base URL http://HOST/api/v1/ai */
    {HTTP_POST, "/api/v1/ai/chat/completions", api_ai_chat_completion, HTTP_AUTH | HTTP_JSON,
     2048 * KIB},
    {HTTP_GET, "/api/v1/ai/models", api_ai_models, HTTP_AUTH, 0},
    {HTTP_POST, "/api/v1/conversations/{id}/ai-reply", api_conversation_ai_reply,
     HTTP_AUTH | HTTP_JSON, 16 * KIB},
    {HTTP_GET, "/api/v1/ai/intents", api_intents_list, HTTP_AUTH, 0},
    {HTTP_POST, "/api/v1/ai/intents", api_intent_create, HTTP_AUTH | HTTP_JSON, 1024 * KIB},
    {HTTP_GET, "/api/v1/ai/intents/{name}", api_intent_get, HTTP_AUTH, 0},
    {HTTP_DELETE, "/api/v1/ai/intents/{name}", api_intent_delete, HTTP_AUTH, 0},
    {HTTP_POST, "/api/v1/ai/intents/{name}/examples", api_intent_examples_add,
     HTTP_AUTH | HTTP_JSON, 1024 * KIB},
    {HTTP_DELETE, "/api/v1/ai/intents/{name}/examples/{id}", api_intent_example_delete, HTTP_AUTH,
     0},
    /* answers ≤ 8 KiB, system prompts ≤ 8 KiB: the bodies may carry JSON escapes */
    {HTTP_GET, "/api/v1/knowledge", api_knowledge_list, HTTP_AUTH, 0},
    {HTTP_POST, "/api/v1/knowledge", api_knowledge_create, HTTP_AUTH | HTTP_JSON, 128 * KIB},
    {HTTP_GET, "/api/v1/knowledge/{id}", api_knowledge_get, HTTP_AUTH, 0},
    {HTTP_PUT, "/api/v1/knowledge/{id}", api_knowledge_put, HTTP_AUTH | HTTP_JSON, 128 * KIB},
    {HTTP_DELETE, "/api/v1/knowledge/{id}", api_knowledge_delete, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/ai/calls", api_ai_calls_list, HTTP_AUTH, 0},
    {HTTP_GET, "/api/v1/ai/settings", api_ai_settings_get, HTTP_AUTH, 0},
    {HTTP_PUT, "/api/v1/ai/settings", api_ai_settings_put, HTTP_AUTH | HTTP_JSON, 128 * KIB},
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
