/*
 * pipeline/responder: the first, honest local responder: keyword matching in English and
 * Russian (case-folded with utf8proc, matched at word boundaries) picks an intent, and a
 * template in the customer's language answers it; anything else gets a polite hand-over.
 * Templates and keywords live in an editable JSON file (data/templates.json is built in).
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

extern const char pipeline_default_templates[];

/* Intents in priority order: the more specific question wins over a greeting ("how much is
 * delivery" is a delivery question). */
static const char *const INTENTS[] = {"delivery", "price", "thanks", "greeting"};
#define NINTENTS (sizeof(INTENTS) / sizeof(INTENTS[0]))

/* Keywords of one intent, case-folded once at load. */
struct intent_words {
    const char *intent; /* borrowed from root */
    char **words;
    size_t n;
};

struct pipeline_responder {
    json_t *root;
    struct intent_words *intents;
    size_t nintents;
};

static char *casefold(const char *s)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) {
        return NULL;
    }
    char *r = dk_strdup((const char *)out);
    dk_free(out); /* allocated by utf8proc with malloc */
    return r;
}

static int validate(json_t *root, struct dk_err *err)
{
    json_t *t = json_object_get(root, "templates");
    json_t *k = json_object_get(root, "keywords");
    if (!json_is_object(t) || !json_is_object(k)) {
        return dk_err_set(err, DK_EINVAL, "needs \"templates\" and \"keywords\" objects");
    }
    json_t *h = json_object_get(t, "handover");
    if (!json_is_string(json_object_get(h, "en"))) {
        return dk_err_set(err, DK_EINVAL, "needs templates.handover.en");
    }
    const char *intent;
    json_t *langs;
    json_object_foreach(k, intent, langs)
    {
        const char *lang;
        json_t *words;
        if (!json_is_object(langs)) {
            return dk_err_set(err, DK_EINVAL, "keywords.%s must be an object of lists", intent);
        }
        json_object_foreach(langs, lang, words)
        {
            size_t i;
            json_t *w;
            if (!json_is_array(words)) {
                return dk_err_set(err, DK_EINVAL, "keywords.%s.%s must be a list", intent, lang);
            }
            json_array_foreach(words, i, w)
            {
                if (!json_is_string(w) || json_string_length(w) == 0) {
                    return dk_err_set(err, DK_EINVAL, "keywords.%s.%s[%zu] must be a word", intent,
                                      lang, i);
                }
            }
        }
    }
    return 0;
}

/* Case-folds every keyword once (validate() has checked the shape). */
static void fold_keywords(struct pipeline_responder *r)
{
    json_t *kw = json_object_get(r->root, "keywords");
    r->intents = dk_calloc(json_object_size(kw) + 1, sizeof(*r->intents));
    const char *intent;
    json_t *langs;
    json_object_foreach(kw, intent, langs)
    {
        struct intent_words *iw = &r->intents[r->nintents++];
        iw->intent = intent;
        size_t total = 0;
        const char *lang;
        json_t *words;
        json_object_foreach(langs, lang, words)
        {
            total += json_array_size(words);
        }
        iw->words = dk_calloc(total + 1, sizeof(char *));
        json_object_foreach(langs, lang, words)
        {
            size_t i;
            json_t *w;
            json_array_foreach(words, i, w)
            {
                char *f = casefold(json_string_value(w));
                if (f != NULL && *f != '\0') {
                    iw->words[iw->n++] = f;
                } else {
                    dk_free(f);
                }
            }
        }
    }
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
    fold_keywords(r);
    return r;
}

void pipeline_responder_free(struct pipeline_responder *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nintents; i++) {
        for (size_t k = 0; k < r->intents[i].n; k++) {
            dk_free(r->intents[i].words[k]);
        }
        dk_free(r->intents[i].words);
    }
    dk_free(r->intents);
    json_decref(r->root);
    dk_free(r);
}

static bool word_byte(unsigned char ch)
{
    return ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* true when needle occurs in hay at word boundaries. */
static bool contains_word(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        bool left = p == hay || !word_byte((unsigned char)p[-1]);
        bool right = !word_byte((unsigned char)p[n]);
        if (left && right) {
            return true;
        }
    }
    return false;
}

static const struct intent_words *find_intent(const struct pipeline_responder *r, const char *name)
{
    for (size_t i = 0; i < r->nintents; i++) {
        if (strcmp(r->intents[i].intent, name) == 0) {
            return &r->intents[i];
        }
    }
    return NULL;
}

static bool intent_matches(const struct intent_words *iw, const char *folded)
{
    for (size_t k = 0; iw != NULL && k < iw->n; k++) {
        if (contains_word(folded, iw->words[k])) {
            return true;
        }
    }
    return false;
}

const char *pipeline_responder_intent(const struct pipeline_responder *r, const char *text)
{
    if (text == NULL || *text == '\0') {
        return "other";
    }
    char *folded = casefold(text);
    if (folded == NULL) {
        return "other";
    }
    const char *found = "other";
    for (size_t i = 0; i < NINTENTS; i++) {
        if (intent_matches(find_intent(r, INTENTS[i]), folded)) {
            found = INTENTS[i];
            break;
        }
    }
    /* intents a business added to its file, after the built-in ones */
    for (size_t i = 0; strcmp(found, "other") == 0 && i < r->nintents; i++) {
        if (intent_matches(&r->intents[i], folded)) {
            found = r->intents[i].intent;
        }
    }
    dk_free(folded);
    return found;
}

int pipeline_responder_priority(const char *intent)
{
    if (intent == NULL || strcmp(intent, "other") == 0) {
        return 0;
    }
    for (size_t i = 0; i < NINTENTS; i++) {
        if (strcmp(INTENTS[i], intent) == 0) {
            return (int)(NINTENTS - i) + 1;
        }
    }
    return 1; /* an intent the business added: above "other", below the built-in ones */
}

const char *pipeline_responder_language(const char *text)
{
    if (text == NULL) {
        return "en";
    }
    const unsigned char *p = (const unsigned char *)text;
    for (; *p != '\0'; p++) {
        /* U+0400..U+04FF (Cyrillic) is encoded with lead bytes 0xD0..0xD3 */
        if (*p >= 0xD0 && *p <= 0xD3 && (p[1] & 0xC0) == 0x80) {
            return "ru";
        }
    }
    return "en";
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
