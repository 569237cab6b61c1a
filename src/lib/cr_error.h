/* cr_error.h: the one table that maps every error to its HTTP status and contract code. */
#ifndef CR_ERROR_H
#define CR_ERROR_H

/* Every function of the library returns CR_OK (0) or one of these negative codes. */
enum cr_err {
    CR_OK = 0,
    CR_E_INVALID = -1,           /* 400 INVALID_REQUEST */
    CR_E_TOKEN_MISSING = -2,     /* 401 */
    CR_E_TOKEN_INVALID = -3,     /* 401 */
    CR_E_TOKEN_NOT_ACTIVE = -4,  /* 403 */
    CR_E_FORBIDDEN = -5,         /* 403 */
    CR_E_NOT_FOUND = -6,         /* 404 */
    CR_E_METHOD = -7,            /* 405 */
    CR_E_SEAT_UNAVAILABLE = -8,  /* 409 */
    CR_E_HOLD_LIMIT = -9,        /* 409 */
    CR_E_ALREADY_PAID = -10,     /* 409 */
    CR_E_IDEM_REUSED = -11,      /* 409 */
    CR_E_IN_PROGRESS = -12,      /* 409 */
    CR_E_EXPIRED = -13,          /* 410 */
    CR_E_TOO_LARGE = -14,        /* 413 */
    CR_E_MEDIA_TYPE = -15,       /* 415 */
    CR_E_INSUFFICIENT = -16,     /* 422 */
    CR_E_BALANCE_LIMIT = -17,    /* 422 */
    CR_E_RATE_LIMIT = -18,       /* 429 */
    CR_E_INTERNAL = -19,         /* 500 */
    CR_E_UNAVAILABLE = -20,      /* 503: MariaDB or Redis unreachable */
    CR_E_RETRY = -21,            /* internal only: deadlock or lost race, retry the transaction */
    CR_E_DUPLICATE = -22,        /* internal only: unique key violated */
    CR_E_UNKNOWN = -23,          /* 500: a write whose outcome is unknown (never a retry hint) */
    CR_E_NOT_PAID = -24,         /* 409 RESERVATION_NOT_PAID: refunding what was never paid */
    CR_E_REFUND_CLOSED = -25,    /* 409: refunding after the refund deadline */
    CR_E_SALES_NOT_OPEN = -26,   /* 409: holding before the schedule's salesOpenAt */
    CR_E__COUNT = 27
};

struct cr_error_info {
    int status;          /* HTTP status */
    const char *code;    /* contract code, e.g. "SEAT_UNAVAILABLE" */
    const char *message; /* default public message */
};

/* Returns the table entry of err; unknown or internal-only codes map to 500 INTERNAL_ERROR.
 * The result points into a static table. */
const struct cr_error_info *cr_error_info(int err);

#endif
