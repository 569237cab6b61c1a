/* cr_token.c: the Authorization header and the gate the dispatcher runs before a handler. */
#include <string.h>
#include <strings.h>

#include "cr_error.h"
#include "cr_queue.h"
#include "cr_token.h"

/* RFC 6750 b64token characters. */
static int cr_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._~+/=", c) != NULL;
}

int cr_token_from_header(struct cr_arena *a, const char *header, const char **token)
{
    if (header == NULL)
        return CR_E_TOKEN_MISSING;
    if (strncasecmp(header, "Bearer ", 7) != 0)
        return CR_E_TOKEN_INVALID;
    const char *t = header + 7;
    while (*t == ' ')
        t++;
    size_t n = 0;
    while (t[n] != '\0' && cr_token_char(t[n]))
        n++;
    size_t end = n;
    while (t[end] == ' ' || t[end] == '\t')
        end++;
    if (n == 0 || n > CR_TOKEN_MAX || t[end] != '\0')
        return CR_E_TOKEN_INVALID;
    *token = cr_arena_strndup(a, t, n);
    return CR_OK;
}

int cr_token_gate(struct cr_req *req, enum cr_token_need need)
{
    const char *token = NULL;
    int rc = cr_token_from_header(req->arena, req->authorization, &token);
    if (rc != CR_OK)
        return rc;
    int reading = need == CR_TOKEN_READ_VALID || need == CR_TOKEN_READ_ACTIVE;
    rc = cr_queue_lookup(req->arena, token, reading, &req->caller);
    if (rc == CR_E_TOKEN_INVALID && req->caller.used && need == CR_TOKEN_SPENT_OK)
        return CR_OK;
    if (rc != CR_OK)
        return rc;
    if ((need == CR_TOKEN_ACTIVE || need == CR_TOKEN_READ_ACTIVE) && !req->caller.active)
        return CR_E_TOKEN_NOT_ACTIVE;
    return CR_OK;
}
