/*
 * core/err: error codes and the error record that fallible functions fill.
 *
 * Functions return 0 or a negative DK_E* code and fill an optional struct dk_err with the
 * code, the HTTP status that the error maps to, and a message for people (PostgreSQL style:
 * lowercase, no final period, with the reason).
 */
#ifndef DK_ERR_H
#define DK_ERR_H

#include <stdarg.h>

enum dk_code {
    DK_OK = 0,
    DK_EINVAL = -1,     /* malformed input: 400 */
    DK_ENOTFOUND = -2,  /* 404 */
    DK_ECONFLICT = -3,  /* 409 */
    DK_ETOOBIG = -4,    /* 413 */
    DK_EUNPROCESS = -5, /* well-formed but invalid field: 422 */
    DK_EAUTH = -6,      /* 401 */
    DK_EFORBIDDEN = -7, /* 403 */
    DK_EUNAVAIL = -8,   /* dependency down (database): 503 */
    DK_EIO = -9,        /* I/O or system failure: 500 */
    DK_EINTERNAL = -10, /* bug or unexpected state: 500 */
    DK_EBUSY = -11,     /* lost a race (lease, lock); retry later */
    DK_ETIMEOUT = -12,
    DK_ECANCELED = -13, /* the caller gave up (client gone, shutdown) */
    DK_ELIMIT = -14,    /* a quota or rate limit is exhausted: 429 */
    DK_EPENDING = -15,  /* not an error: the work continues asynchronously (queue handlers) */
};

struct dk_err {
    int code;      /* enum dk_code */
    int status;    /* HTTP status */
    char msg[512]; /* for people; never holds secrets */
};

/* Fills err (may be NULL) and returns code. The status defaults from the code. */
int dk_err_set(struct dk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dk_err_setv(struct dk_err *err, int code, const char *fmt, va_list ap);

/* HTTP status for a code (400, 404, …, 500). */
int dk_err_status(int code);

/* Short machine name for the API error format: "invalid_request", "not_found", … */
const char *dk_err_name(int code);

void dk_err_clear(struct dk_err *err);

#endif
