/* core/err: error records (see err.h). */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

int dk_err_status(int code)
{
    switch (code) {
    case DK_OK:
        return 200;
    case DK_EINVAL:
        return 400;
    case DK_ENOTFOUND:
        return 404;
    case DK_ECONFLICT:
        return 409;
    case DK_ETOOBIG:
        return 413;
    case DK_EUNPROCESS:
        return 422;
    case DK_EAUTH:
        return 401;
    case DK_EFORBIDDEN:
        return 403;
    case DK_EUNAVAIL:
    case DK_EBUSY:
    case DK_ETIMEOUT:
        return 503;
    case DK_ELIMIT:
        return 429;
    case DK_ECANCELED:
        return 499;
    default:
        return 500;
    }
}

const char *dk_err_name(int code)
{
    switch (code) {
    case DK_OK:
        return "ok";
    case DK_EINVAL:
        return "invalid_request";
    case DK_ENOTFOUND:
        return "not_found";
    case DK_ECONFLICT:
        return "conflict";
    case DK_ETOOBIG:
        return "payload_too_large";
    case DK_EUNPROCESS:
        return "invalid_field";
    case DK_EAUTH:
        return "unauthorized";
    case DK_EFORBIDDEN:
        return "forbidden";
    case DK_EUNAVAIL:
        return "unavailable";
    case DK_EBUSY:
        return "busy";
    case DK_ETIMEOUT:
        return "timeout";
    case DK_ECANCELED:
        return "canceled";
    case DK_ELIMIT:
        return "rate_limited";
    case DK_EPENDING:
        return "pending";
    default:
        return "internal";
    }
}

int dk_err_setv(struct dk_err *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    err->status = dk_err_status(code);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int dk_err_set(struct dk_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dk_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void dk_err_clear(struct dk_err *err)
{
    if (err != NULL) {
        err->code = 0;
        err->status = 200;
        err->msg[0] = '\0';
    }
}
