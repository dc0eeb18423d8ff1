/*
 * instagram/split: cuts a long reply into parts that Instagram accepts (see graph.h).
 *
 * Each part is the longest prefix of the rest that fits and ends at the best place available:
 * a sentence end, else a space, else a character boundary. The cut points are ASCII bytes or
 * the start of a character, so a part never ends inside a UTF-8 sequence; the whitespace around
 * a cut is dropped, so that the parts joined by that whitespace give the text back.
 */
#include "instagram/graph.h"

#include <stdbool.h>
#include <string.h>

/* No part can hold less than one whole character (4 bytes at most). */
#define MIN_PART 4

static bool blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Whether s[0..e) ends a sentence that the blank s[e] follows, or s[e] breaks the line. */
static bool sentence_end(const unsigned char *s, size_t start, size_t e)
{
    if (s[e] == '\n' || s[e] == '\r') {
        return true;
    }
    if (!blank(s[e])) {
        return false;
    }
    unsigned char c = s[e - 1];
    if (c == '.' || c == '!' || c == '?') {
        return true;
    }
    /* "…" is E2 80 A6 */
    return e - start >= 3 && s[e - 3] == 0xE2 && s[e - 2] == 0x80 && c == 0xA6;
}

/* The end of the part that starts at start (not blank) in s[0..n), with n - start > max. */
static size_t cut(const unsigned char *s, size_t start, size_t max)
{
    size_t limit = start + max; /* s[limit] exists: the rest is longer than max */
    for (size_t e = limit; e > start; e--) {
        if (sentence_end(s, start, e)) {
            return e;
        }
    }
    for (size_t e = limit; e > start; e--) {
        if (blank(s[e])) {
            return e;
        }
    }
    for (size_t e = limit; e > start; e--) {
        if (!continuation(s[e])) {
            return e;
        }
    }
    return limit; /* not UTF-8: a run of continuation bytes longer than a part */
}

size_t ig_split_text(const char *text, size_t max_bytes, struct ig_span *parts, size_t max_parts)
{
    if (text == NULL) {
        return 0;
    }
    size_t max = max_bytes > IG_TEXT_MAX ? IG_TEXT_MAX : max_bytes;
    if (max < MIN_PART) {
        max = MIN_PART;
    }
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    size_t count = 0;
    size_t pos = 0;
    for (;;) {
        while (pos < n && blank(s[pos])) {
            pos++;
        }
        if (pos == n) {
            break;
        }
        size_t end = n - pos > max ? cut(s, pos, max) : n;
        size_t len = end - pos;
        while (len > 0 && blank(s[pos + len - 1])) {
            len--;
        }
        if (count < max_parts) {
            parts[count].off = pos;
            parts[count].len = len;
        }
        count++;
        pos = end;
    }
    return count;
}
