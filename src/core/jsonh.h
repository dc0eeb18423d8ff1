/*
 * core/jsonh: jansson helpers: bounded parsing, typed field access, compact dumps.
 * Ownership: each function says whether a json_t * is new (caller decrefs) or borrowed.
 */
#ifndef DK_JSONH_H
#define DK_JSONH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

#define DK_JSON_MAX_DEPTH 32

/* Parses len bytes (need not be NUL-terminated) rejecting duplicate keys, nesting deeper than
 * max_depth, and trailing garbage. Any JSON value is accepted at the top (a scalar is valid
 * JSON: callers check the type and answer 422, not 400). Returns a new reference, or NULL with err
 * filled (DK_EINVAL, message with the position). */
json_t *dk_json_parse(const char *data, size_t len, int max_depth, struct dk_err *err);

/* Borrowed string field or NULL when missing or not a string. */
const char *dk_json_str(const json_t *obj, const char *key);
/* Integer field; also accepts a string of digits (Meta sends ids as strings). Returns false
 * when missing or not a number. */
bool dk_json_int(const json_t *obj, const char *key, int64_t *out);
bool dk_json_bool(const json_t *obj, const char *key);

/* Appends s as a JSON string literal (quoted, escaped; "null" for NULL) to b. Returns 0 or
 * DK_ETOOBIG when b's maximum is reached. s must be valid UTF-8 (it is copied as is). */
int dk_json_put_string(struct dk_buf *b, const char *s);

/* Compact dump; caller frees with dk_free. */
char *dk_json_dump(const json_t *j);
/* Compact dump owned by the arena. */
char *dk_json_dump_arena(struct dk_arena *a, const json_t *j);
/* Ties a reference to an arena: json_decref at arena free. Returns j. */
json_t *dk_json_arena(struct dk_arena *a, json_t *j);

#endif
