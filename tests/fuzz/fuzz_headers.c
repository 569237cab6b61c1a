/* fuzz_headers.c: every header the service parses, fed the same value: Authorization
 * (cr_token_from_header), Idempotency-Key (cr_idem_check_key), X-Request-Id (cr_is_safe_id,
 * and through the request reader, which must replace an unsafe one), Content-Type
 * (cr_is_json_type). Each verdict is checked against the rule it implements. */
#include <string.h>
#include <strings.h>

#include "cr_error.h"
#include "cr_fuzz.h"
#include "cr_idem.h"
#include "cr_route.h"
#include "cr_server.h"
#include "cr_token.h"

/* 1 to 64 characters of [A-Za-z0-9_-], written out again rather than calling the library. */
static int safe_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int no_body(void *ctx, char *buf, int n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = cr_fuzz_str(data, size);
    struct cr_req req;
    const char *token = NULL;

    /* Authorization */
    int rc = cr_token_from_header(cr_fuzz_arena, v, &token);
    CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_TOKEN_INVALID);

    /* Idempotency-Key: valid exactly when it is a safe id; a refusal carries a message. */
    memset(&req, 0, sizeof(req));
    req.arena = cr_fuzz_arena;
    req.idempotency_key = v;
    rc = cr_idem_check_key(&req);
    CR_FUZZ_CHECK(rc == (safe_id(v) ? CR_OK : CR_E_INVALID));
    CR_FUZZ_CHECK(rc == CR_OK || req.errmsg != NULL);
    CR_FUZZ_CHECK(cr_is_safe_id(v) == safe_id(v));

    /* X-Request-Id, as nginx passes it on (REQUEST_ID): kept when safe, else replaced. */
    char *param = cr_arena_sprintf(cr_fuzz_arena, "REQUEST_ID=%s", v);
    char *envp[] = {param, NULL};
    memset(&req, 0, sizeof(req));
    req.arena = cr_fuzz_arena;
    cr_server_read(&req, envp, no_body, NULL);
    CR_FUZZ_CHECK(safe_id(req.request_id));
    CR_FUZZ_CHECK(!safe_id(v) || strcmp(req.request_id, v) == 0);

    /* Content-Type */
    if (cr_is_json_type(v)) {
        const char *rest = v + strlen("application/json");
        CR_FUZZ_CHECK(strncasecmp(v, "application/json", 16) == 0);
        rest += strspn(rest, " \t");
        CR_FUZZ_CHECK(*rest == '\0' || *rest == ';');
    }
    return cr_fuzz_done();
}
