/*
 * pipeline/responder: the built-in local responder. The NLU names the intent of a message
 * (pipeline/understand.c); this file answers it with a template in the customer's language
 * (English or Russian), and anything without a template gets a polite hand-over. Templates
 * live in an editable JSON file (data/templates.json is built in).
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

extern const char pipeline_default_templates[];

/* Intents in priority order: when one burst of messages holds several, the more specific
 * question wins ("hi! how much is delivery?" is a delivery question). */
static const char *const INTENTS[] = {
    "human_request", "complaint",   "returns",      "order_status", "payment",
    "delivery",      "booking",     "availability", "price",        "collaboration",
    "story_mention", "story_reply", "goodbye",      "thanks",       "greeting"};
#define NINTENTS (sizeof(INTENTS) / sizeof(INTENTS[0]))

struct pipeline_responder {
    json_t *root;
};

static int validate(json_t *root, struct dk_err *err)
{
    json_t *t = json_object_get(root, "templates");
    if (!json_is_object(t)) {
        return dk_err_set(err, DK_EINVAL, "needs a \"templates\" object");
    }
    json_t *h = json_object_get(t, "handover");
    if (!json_is_string(json_object_get(h, "en"))) {
        return dk_err_set(err, DK_EINVAL, "needs templates.handover.en");
    }
    const char *intent;
    json_t *langs;
    json_object_foreach(t, intent, langs)
    {
        const char *lang;
        json_t *text;
        if (!json_is_object(langs)) {
            return dk_err_set(err, DK_EINVAL, "templates.%s must be an object of texts", intent);
        }
        json_object_foreach(langs, lang, text)
        {
            if (!json_is_string(text) || json_string_length(text) == 0) {
                return dk_err_set(err, DK_EINVAL, "templates.%s.%s must be a text", intent, lang);
            }
        }
    }
    return 0;
}

struct pipeline_responder *pipeline_responder_load(const char *path, struct dk_err *err)
{
    json_t *root;
    const char *origin = path != NULL ? path : "built-in templates";
    if (path != NULL) {
        json_error_t je;
        root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (root == NULL) {
            dk_err_set(err, DK_EINVAL, "could not load templates %s: %s (line %d)", path, je.text,
                       je.line);
            return NULL;
        }
    } else {
        root = dk_json_parse(pipeline_default_templates, strlen(pipeline_default_templates),
                             DK_JSON_MAX_DEPTH, err);
        if (root == NULL) {
            return NULL;
        }
    }
    struct dk_err verr = {0};
    if (validate(root, &verr) != 0) {
        dk_err_set(err, DK_EINVAL, "invalid templates %s: %s", origin, verr.msg);
        json_decref(root);
        return NULL;
    }
    struct pipeline_responder *r = dk_calloc(1, sizeof(*r));
    r->root = root;
    return r;
}

void pipeline_responder_free(struct pipeline_responder *r)
{
    if (r == NULL) {
        return;
    }
    json_decref(r->root);
    dk_free(r);
}

int pipeline_responder_priority(const char *intent)
{
    if (intent == NULL || strcmp(intent, "other") == 0 || strcmp(intent, NLU_OOS_LABEL) == 0 ||
        strcmp(intent, "spam") == 0) {
        return 0;
    }
    for (size_t i = 0; i < NINTENTS; i++) {
        if (strcmp(INTENTS[i], intent) == 0) {
            return (int)(NINTENTS - i) + 1;
        }
    }
    return 1; /* an intent the business added: above "other", below the built-in ones */
}

const char *pipeline_responder_reply(const struct pipeline_responder *r, const char *intent,
                                     const char *lang)
{
    json_t *t = json_object_get(r->root, "templates");
    json_t *byintent = json_object_get(t, intent);
    if (byintent == NULL) {
        byintent = json_object_get(t, "handover");
    }
    const char *s = dk_json_str(byintent, lang);
    if (s == NULL) {
        s = dk_json_str(byintent, "en");
    }
    if (s == NULL) {
        s = dk_json_str(json_object_get(t, "handover"), "en");
    }
    return s;
}
