/* cr_error.c: error code → HTTP status, contract code and default message. */
#include "cr_error.h"

static const struct cr_error_info cr_errors[CR_E__COUNT] = {
    [0] = {200, "OK", "ok"},
    [-CR_E_INVALID] = {400, "INVALID_REQUEST", "the request is not valid"},
    [-CR_E_TOKEN_MISSING] = {401, "TOKEN_MISSING", "a queue token is required"},
    [-CR_E_TOKEN_INVALID] = {401, "TOKEN_INVALID", "the queue token is not valid"},
    [-CR_E_TOKEN_NOT_ACTIVE] = {403, "TOKEN_NOT_ACTIVE", "the queue token is still waiting in line"},
    [-CR_E_FORBIDDEN] = {403, "FORBIDDEN", "the resource belongs to another user"},
    [-CR_E_NOT_FOUND] = {404, "NOT_FOUND", "not found"},
    [-CR_E_METHOD] = {405, "METHOD_NOT_ALLOWED", "method not allowed"},
    [-CR_E_SEAT_UNAVAILABLE] = {409, "SEAT_UNAVAILABLE", "the seat is held or sold"},
    [-CR_E_HOLD_LIMIT] = {409, "HOLD_LIMIT_REACHED", "the user already holds the maximum number of seats"},
    [-CR_E_ALREADY_PAID] = {409, "RESERVATION_ALREADY_PAID", "the reservation is already paid"},
    [-CR_E_IDEM_REUSED] = {409, "IDEMPOTENCY_KEY_REUSED", "the idempotency key was used for another request"},
    [-CR_E_IN_PROGRESS] = {409, "REQUEST_IN_PROGRESS", "a request with this idempotency key is still running"},
    [-CR_E_EXPIRED] = {410, "RESERVATION_EXPIRED", "the hold ran out and was released"},
    [-CR_E_TOO_LARGE] = {413, "PAYLOAD_TOO_LARGE", "the request body is over 16 KiB"},
    [-CR_E_MEDIA_TYPE] = {415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json"},
    [-CR_E_INSUFFICIENT] = {422, "INSUFFICIENT_BALANCE", "the balance is too low"},
    [-CR_E_BALANCE_LIMIT] = {422, "BALANCE_LIMIT_EXCEEDED", "the charge would take the balance over the maximum"},
    [-CR_E_RATE_LIMIT] = {429, "TOO_MANY_REQUESTS", "too many requests"},
    [-CR_E_INTERNAL] = {500, "INTERNAL_ERROR", "internal error"},
    [-CR_E_UNAVAILABLE] = {503, "SERVICE_UNAVAILABLE", "the service is temporarily unavailable"},
    [-CR_E_RETRY] = {500, "INTERNAL_ERROR", "internal error"},
    [-CR_E_DUPLICATE] = {500, "INTERNAL_ERROR", "internal error"},
    /* Not 503: a client told "retry" must be able to trust that nothing happened. */
    [-CR_E_UNKNOWN] = {500, "INTERNAL_ERROR",
                       "the outcome is unknown: check whether the request took effect before "
                       "repeating it (a repeat with the same Idempotency-Key is always safe)"},
    [-CR_E_NOT_PAID] = {409, "RESERVATION_NOT_PAID", "the reservation was never paid"},
    [-CR_E_REFUND_CLOSED] = {409, "REFUND_CLOSED",
                             "refunds of this show have closed (too close to its start)"},
    [-CR_E_SALES_NOT_OPEN] = {409, "SALES_NOT_OPEN", "sales for this schedule are not open yet"},
};

const struct cr_error_info *cr_error_info(int err)
{
    if (err > 0 || err <= -CR_E__COUNT)
        return &cr_errors[-CR_E_INTERNAL];
    return &cr_errors[-err];
}
