/* fuzz_route.c: the router (cr_route_match) over the five groups' real route tables, with any
 * method and path; then the dispatcher where it answers without a database: 404, 405 with
 * Allow, and 401 for a gated route called without a token.
 * Input: the method, one space, the path (a request without a space has path "/"). */
#include <string.h>

#include "cr_error.h"
#include "cr_fuzz.h"
#include "cr_route.h"
#include "../../src/concert/routes.h"
#include "../../src/payment/routes.h"
#include "../../src/queue/routes.h"
#include "../../src/reservation/routes.h"
#include "../../src/wallet/routes.h"

static const struct {
    const struct cr_route *routes;
    const size_t *n;
} tables[] = {
    {queue_routes, &queue_nroutes},           {concert_routes, &concert_nroutes},
    {reservation_routes, &reservation_nroutes}, {wallet_routes, &wallet_nroutes},
    {payment_routes, &payment_nroutes},
};

/* The pattern with its {param}s replaced by the captures: a match must give back the path. */
static void check_captures(const struct cr_route *route, const struct cr_req *req)
{
    const char *p = route->pattern;
    const char *s = req->path;
    int i = 0;
    while (*p != '\0') {
        if (*p == '{') {
            CR_FUZZ_CHECK(i < req->nparams);
            size_t n = strlen(req->params[i]);
            CR_FUZZ_CHECK(n > 0 && strchr(req->params[i], '/') == NULL);
            CR_FUZZ_CHECK(strncmp(s, req->params[i], n) == 0);
            s += n;
            p = strchr(p, '}') + 1;
            i++;
        } else {
            CR_FUZZ_CHECK(*s == *p);
            s++;
            p++;
        }
    }
    CR_FUZZ_CHECK(*s == '\0' && i == req->nparams);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = cr_fuzz_str(data, size);
    char *sp = strchr(in, ' ');
    const char *method = in, *path = "/";
    if (sp != NULL) {
        *sp = '\0';
        path = sp + 1;
    }
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        struct cr_req req;
        struct cr_resp resp;
        const struct cr_route *route = NULL;
        char allow[64];
        memset(&req, 0, sizeof(req));
        req.arena = cr_fuzz_arena;
        req.method = method;
        req.path = path;
        req.query = "";
        req.request_id = "fuzz";
        req.content_length = -1;
        req.body = "";
        enum cr_match m =
            cr_route_match(tables[t].routes, *tables[t].n, &req, &route, allow, sizeof(allow));
        if (m == CR_MATCH_FOUND) {
            CR_FUZZ_CHECK(strcmp(route->method, method) == 0);
            check_captures(route, &req);
            if (route->token == CR_TOKEN_NONE)
                continue; /* its handler needs the database */
        } else if (m == CR_MATCH_METHOD) {
            CR_FUZZ_CHECK(allow[0] != '\0');
        } else {
            CR_FUZZ_CHECK(m == CR_MATCH_NOT_FOUND && allow[0] == '\0');
        }
        memset(&req.params, 0, sizeof(req.params));
        req.nparams = 0;
        memset(&resp, 0, sizeof(resp));
        /* A path that is not clean text is refused before routing (strict input). */
        struct cr_req probe = req;
        int clean = cr_req_check_text(&probe) == CR_OK;
        cr_dispatch(tables[t].routes, *tables[t].n, &req, &resp);
        int want = !clean ? 400 : m == CR_MATCH_FOUND ? 401 : m == CR_MATCH_METHOD ? 405 : 404;
        CR_FUZZ_CHECK(resp.status == want && resp.body != NULL);
        if (want == 405)
            CR_FUZZ_CHECK(resp.nheaders == 1 && strcmp(resp.headers[0][0], "Allow") == 0);
    }
    return cr_fuzz_done();
}
