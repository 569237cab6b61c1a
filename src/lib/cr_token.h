/* cr_token.h: the token gate: turns the Authorization header into the caller's identity. */
#ifndef CR_TOKEN_H
#define CR_TOKEN_H

#include "cr_http.h"
#include "cr_route.h"

#define CR_TOKEN_MAX 256

/* Extracts the bearer token from an Authorization header value. Returns CR_OK with *token
 * pointing into an arena copy, CR_E_TOKEN_MISSING when header is NULL, CR_E_TOKEN_INVALID
 * for another scheme or a malformed value. */
int cr_token_from_header(struct cr_arena *a, const char *header, const char **token);

/* Checks the request's token against what the route needs (one Redis round trip; none for a
 * reading route in the timed mode) and fills req->caller. CR_OK, or CR_E_TOKEN_MISSING / _INVALID / _NOT_ACTIVE / CR_E_UNAVAILABLE. */
int cr_token_gate(struct cr_req *req, enum cr_token_need need);

#endif
