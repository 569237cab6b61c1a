/* cr_route.h: route tables with {param} patterns, and the dispatcher that checks method,
 * token and body before a handler runs and turns its error code into the contract's JSON. */
#ifndef CR_ROUTE_H
#define CR_ROUTE_H

#include <stddef.h>

#include "cr_http.h"

/* NONE: no token; VALID: waiting or active; ACTIVE: admitted only. SPENT_OK: valid, or spent by
 * a payment (caller.used = 1): for the payment route, whose handler may only replay a recorded
 * response to a spent token, and must itself refuse what ACTIVE would refuse otherwise.
 * READ_VALID, READ_ACTIVE: the same as VALID and ACTIVE for a reading route (API.md 9, 10, 12),
 * where the timed mode checks the token by itself, without Redis (a token given back or used
 * stays readable there until it expires). */
enum cr_token_need {
    CR_TOKEN_NONE,
    CR_TOKEN_VALID,
    CR_TOKEN_ACTIVE,
    CR_TOKEN_SPENT_OK,
    CR_TOKEN_READ_VALID,
    CR_TOKEN_READ_ACTIVE
};
enum cr_body_need { CR_BODY_NONE, CR_BODY_OPTIONAL, CR_BODY_REQUIRED };

/* A handler parses its input, calls the library and fills resp. It returns CR_OK, or an error
 * code (with cr_fail() for a specific message) that the dispatcher turns into the error body. */
struct cr_route {
    const char *method;
    const char *pattern; /* "/api/v1/users/{userId}/balance" */
    enum cr_token_need token;
    enum cr_body_need body;
    int (*handler)(struct cr_req *req, struct cr_resp *resp);
};

enum cr_match { CR_MATCH_FOUND, CR_MATCH_NOT_FOUND, CR_MATCH_METHOD };

/* Has cr_dispatch call fn(route, req) once the route matched and before the token gate: a
 * group may queue a Redis read there to ride with the gate's (cr_redis_ride). fn must not
 * fail the request or keep anything past it. NULL: none (the default). */
void cr_route_before_gate(void (*fn)(const struct cr_route *route, struct cr_req *req));

/* Matches method and path against the table. On CR_MATCH_FOUND, *route is set and the
 * {param} captures go to req->params (arena strings). On CR_MATCH_METHOD, allow receives the
 * comma-separated allowed methods (e.g. "GET, POST"). */
enum cr_match cr_route_match(const struct cr_route *routes, size_t n, struct cr_req *req,
                             const struct cr_route **route, char *allow, size_t allowlen);

/* Runs one request through the table: 404/405, token gate, 413/415/400 for the body, the
 * handler, and the error body on failure. Always leaves a complete response in resp. */
void cr_dispatch(const struct cr_route *routes, size_t n, struct cr_req *req,
                 struct cr_resp *resp);

/* Returns 1 when a Content-Type value is application/json, optionally followed by parameters
 * such as "; charset=utf-8" (the media type is case-insensitive). */
int cr_is_json_type(const char *ct);

/* The handler of GET /healthz, shared by every group. */
int cr_health_handler(struct cr_req *req, struct cr_resp *resp);

#endif
