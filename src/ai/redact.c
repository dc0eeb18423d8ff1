/*
 * ai/redact: personal data out of the text sent to a cloud LLM, and back into its answer.
 *
 * The NLU's entity finder marks phones, e-mail addresses, card numbers and @handles as PII.
 * Each distinct value (the exact bytes of its span, per kind) gets a numbered placeholder per
 * kind: "[PHONE_1]", "[PHONE_2]", "[EMAIL_1]", "[CARD_1]", "[HANDLE_1]". The map lives for one
 * conversation call, so every message of the history redacts consistently: the same phone in
 * three turns is "[PHONE_1]" three times. A map holds at most AI_REDACT_MAX values.
 *
 * Restoring replaces placeholders of the map wherever they occur in the model's answer, as
 * often as they occur, and only in their exact form (brackets, upper case, no inner spaces):
 * "[phone_1]" or "[ PHONE_1 ]" stay as written. Phones, e-mail addresses and handles come back
 * as the customer wrote them; a card comes back as the NLU's masked form
 * ("**** **** **** 1111"), so a full card number never appears in a reply.
 */
#include "ai/ai.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/nlu.h"

struct red_entry {
    uint8_t kind; /* enum nlu_ent_kind */
    char *orig;   /* the bytes as they were in the text */
    size_t orig_len;
    char *restore; /* what ai_unredact puts back */
    size_t restore_len;
    char ph[24]; /* "[PHONE_12]" */
    size_t ph_len;
};

struct ai_redaction {
    struct red_entry v[AI_REDACT_MAX];
    size_t n;
    unsigned next[NLU_ENT_COUNT]; /* last number given per kind */
};

struct ai_redaction *ai_redaction_new(void)
{
    return dk_calloc(1, sizeof(struct ai_redaction));
}

static void entry_clear(struct red_entry *e)
{
    dk_free(e->orig);
    dk_free(e->restore);
    memset(e, 0, sizeof(*e));
}

void ai_redaction_free(struct ai_redaction *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        entry_clear(&m->v[i]);
    dk_free(m);
}

size_t ai_redaction_count(const struct ai_redaction *m)
{
    return m ? m->n : 0;
}

/* The placeholder's label of a PII kind, NULL for kinds that are not redacted. */
static const char *kind_label(unsigned kind)
{
    switch (kind) {
    case NLU_ENT_PHONE:
        return "PHONE";
    case NLU_ENT_EMAIL:
        return "EMAIL";
    case NLU_ENT_CARD:
        return "CARD";
    case NLU_ENT_HANDLE:
        return "HANDLE";
    default:
        return NULL;
    }
}

/* The entities of s[0..len) (valid UTF-8) in *out: ents when they fit (cap), else a new array
 * the caller frees. Returns how many. */
static size_t find_entities(const char *s, size_t len, struct nlu_entity *ents, size_t cap,
                            struct nlu_entity **out)
{
    *out = ents;
    size_t n = nlu_entities(s, len, ents, cap);
    if (n > cap) {
        struct nlu_entity *big = dk_malloc(n * sizeof(*big));
        n = nlu_entities(s, len, big, n);
        *out = big;
    }
    return n;
}

static bool is_redacted(const struct nlu_entity *e)
{
    return e->pii && kind_label(e->kind) != NULL && e->end > e->start;
}

/* Checks what ai_redact and ai_has_pii accept. */
static int check_text(const char *text, size_t len, struct dk_err *err)
{
    if (text == NULL)
        return dk_err_set(err, DK_EINVAL, "could not redact text: no text");
    if (len > NLU_MAX_TEXT)
        return dk_err_set(err, DK_ETOOBIG, "could not redact text: %zu bytes is over the limit %d",
                          len, NLU_MAX_TEXT);
    struct dk_err e8;
    if (nlu_utf8_check(text, len, &e8) < 0)
        return dk_err_set(err, DK_EINVAL, "could not redact text: %s", e8.msg);
    return 0;
}

bool ai_has_pii(struct nlu_ctx *ctx, const char *text, size_t len)
{
    (void)ctx;
    /* Text that cannot be checked cannot be redacted either: treat it as private. */
    if (check_text(text, len, NULL) < 0)
        return true;
    struct nlu_entity stack[NLU_MAX_ENTITIES];
    struct nlu_entity *ents;
    size_t n = find_entities(text, len, stack, NLU_MAX_ENTITIES, &ents);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        found = is_redacted(&ents[i]);
    if (ents != stack)
        dk_free(ents);
    return found;
}

static struct red_entry *lookup(struct ai_redaction *m, unsigned kind, const char *p, size_t n)
{
    for (size_t i = 0; i < m->n; i++) {
        struct red_entry *e = &m->v[i];
        if (e->kind == kind && e->orig_len == n && memcmp(e->orig, p, n) == 0)
            return e;
    }
    return NULL;
}

/* The entry of entity ent of text, added when new; NULL when the map is full. */
static struct red_entry *entry_for(struct ai_redaction *m, const struct nlu_entity *ent,
                                   const char *text)
{
    const char *p = text + ent->start;
    size_t n = ent->end - ent->start;
    struct red_entry *e = lookup(m, ent->kind, p, n);
    if (e != NULL)
        return e;
    if (m->n == AI_REDACT_MAX)
        return NULL;
    e = &m->v[m->n++];
    e->kind = ent->kind;
    e->orig = dk_strndup(p, n);
    e->orig_len = n;
    e->restore = dk_strdup(ent->kind == NLU_ENT_CARD ? ent->value : e->orig);
    e->restore_len = strlen(e->restore);
    int w = snprintf(e->ph, sizeof(e->ph), "[%s_%u]", kind_label(ent->kind), ++m->next[ent->kind]);
    e->ph_len = (size_t)w;
    return e;
}

char *ai_redact(struct ai_redaction *m, struct nlu_ctx *ctx, const char *text, size_t len,
                int *found, struct dk_err *err)
{
    (void)ctx;
    if (found != NULL)
        *found = 0;
    if (m == NULL) {
        dk_err_set(err, DK_EINVAL, "could not redact text: no redaction map");
        return NULL;
    }
    if (check_text(text, len, err) < 0)
        return NULL;

    struct nlu_entity stack[NLU_MAX_ENTITIES];
    struct nlu_entity *ents;
    size_t n = find_entities(text, len, stack, NLU_MAX_ENTITIES, &ents);

    /* Entries added by this call are taken back when the map runs out of room, so that a
     * failed call leaves the map as it was. */
    size_t n_before = m->n;
    unsigned next_before[NLU_ENT_COUNT];
    memcpy(next_before, m->next, sizeof(next_before));

    struct dk_buf out;
    dk_buf_init(&out, len + n * 24 + 1); /* a placeholder is at most 23 bytes */
    size_t pos = 0;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        const struct nlu_entity *ent = &ents[i];
        if (!is_redacted(ent) || ent->start < pos || ent->end > len)
            continue;
        struct red_entry *e = entry_for(m, ent, text);
        if (e == NULL) {
            for (size_t k = n_before; k < m->n; k++)
                entry_clear(&m->v[k]);
            m->n = n_before;
            memcpy(m->next, next_before, sizeof(next_before));
            dk_buf_free(&out);
            if (ents != stack)
                dk_free(ents);
            dk_err_set(err, DK_ETOOBIG,
                       "could not redact text: more than %d personal values in one conversation",
                       AI_REDACT_MAX);
            return NULL;
        }
        dk_buf_append(&out, text + pos, ent->start - pos);
        dk_buf_append(&out, e->ph, e->ph_len);
        pos = ent->end;
        count++;
    }
    dk_buf_append(&out, text + pos, len - pos);
    if (ents != stack)
        dk_free(ents);
    if (found != NULL)
        *found = count;
    return dk_buf_take(&out, NULL);
}

/* The entry whose placeholder starts at s (s[0] == '['), NULL when none. */
static const struct red_entry *placeholder_at(const struct ai_redaction *m, const char *s)
{
    /* the shape first: "[" upper-case letters "_" digits "]", at most 23 bytes */
    size_t i = 1;
    while (s[i] >= 'A' && s[i] <= 'Z')
        i++;
    if (i == 1 || s[i] != '_')
        return NULL;
    i++;
    size_t d = i;
    while (s[i] >= '0' && s[i] <= '9' && i < 22)
        i++;
    if (i == d || s[i] != ']')
        return NULL;
    size_t n = i + 1;
    for (size_t k = 0; k < m->n; k++) {
        const struct red_entry *e = &m->v[k];
        if (e->ph_len == n && memcmp(e->ph, s, n) == 0)
            return e;
    }
    return NULL;
}

char *ai_unredact(const struct ai_redaction *m, const char *text)
{
    if (text == NULL)
        return NULL;
    if (m == NULL || m->n == 0)
        return dk_strdup(text);
    /* Two passes: the exact size first, then the copy (no growing buffer, no limit to hit). */
    size_t len = strlen(text);
    size_t size = 0;
    for (size_t i = 0; i < len;) {
        const struct red_entry *e = text[i] == '[' ? placeholder_at(m, text + i) : NULL;
        if (e != NULL) {
            size += e->restore_len;
            i += e->ph_len;
        } else {
            size++;
            i++;
        }
    }
    char *out = dk_malloc(size + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const struct red_entry *e = text[i] == '[' ? placeholder_at(m, text + i) : NULL;
        if (e != NULL) {
            memcpy(out + o, e->restore, e->restore_len);
            o += e->restore_len;
            i += e->ph_len;
        } else {
            out[o++] = text[i++];
        }
    }
    out[o] = '\0';
    return out;
}
