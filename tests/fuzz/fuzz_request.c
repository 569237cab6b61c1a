/* fuzz_request.c: the request reader (cr_server_read: FastCGI params and body into the request)
 * and the dispatcher's input checks (body size, content type, JSON body, query string, path
 * and header parameters) on a route table whose handlers use the library's parsers the way
 * the groups do, without a database.
 * Input: "NAME=value" param lines, an empty line, then the body stream. */
#include <string.h>

#include "cr_error.h"
#include "cr_fuzz.h"
#include "cr_idem.h"
#include "cr_json.h"
#include "cr_route.h"
#include "cr_server.h"

#define MAX_PARAMS 32

struct stream {
    const char *p;
    size_t left;
};

static int stream_read(void *ctx, char *buf, int n)
{
    struct stream *s = ctx;
    size_t k = (size_t)n < s->left ? (size_t)n : s->left;
    memcpy(buf, s->p, k);
    s->p += k;
    s->left -= k;
    return (int)k;
}

static int ok(struct cr_req *req, struct cr_resp *resp, int status)
{
    json_object *o = json_object_new_object();
    cr_json_add_str(o, "requestId", req->request_id);
    return cr_resp_json(req, resp, status, o);
}

/* GET /api/v1/concerts?page=&size=: the query parameters a list reads. */
static int h_list(struct cr_req *req, struct cr_resp *resp)
{
    static const char *const names[] = {"page", "size", "from", "to", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = NULL;
        int rc = cr_req_query(req, names[i], &v);
        if (rc != CR_OK)
            return rc;
        if (v != NULL && strlen(v) > strlen(req->query))
            return cr_fail(req, CR_E_INTERNAL, "decoded value longer than the query");
    }
    return ok(req, resp, 200);
}

static int h_seats(struct cr_req *req, struct cr_resp *resp)
{
    long long id;
    int rc = cr_req_param_id(req, 0, "scheduleId", &id);
    return rc != CR_OK ? rc : ok(req, resp, 200);
}

static int h_charge(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid u;
    json_object *body;
    long long amount;
    int rc;
    if ((rc = cr_idem_check_key(req)) != CR_OK || (rc = cr_req_param_uuid(req, 0, "userId", &u)) != CR_OK ||
        (rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_json_int(req, body, "amount", 1, 1000000000, &amount)) != CR_OK)
        return rc;
    return ok(req, resp, 200);
}

static int h_pay(struct cr_req *req, struct cr_resp *resp)
{
    json_object *body, *ids;
    struct cr_uuid u;
    int rc;
    if ((rc = cr_idem_check_key(req)) != CR_OK || (rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_json_array(req, body, "reservationIds", 1, 4, &ids)) != CR_OK)
        return rc;
    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        json_object *v = json_object_array_get_idx(ids, i);
        if (!json_object_is_type(v, json_type_string) ||
            cr_uuid_parse(json_object_get_string(v), &u) != CR_OK)
            return cr_fail(req, CR_E_INVALID, "reservationIds must hold UUID strings");
    }
    return ok(req, resp, 201);
}

static int h_cancel(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid u;
    int rc = cr_req_param_uuid(req, 0, "reservationId", &u);
    if (rc == CR_OK)
        resp->status = 204;
    return rc;
}

static const struct cr_route routes[] = {
    {"GET", "/api/v1/concerts", CR_TOKEN_NONE, CR_BODY_NONE, h_list},
    {"GET", "/api/v1/schedules/{scheduleId}/seats", CR_TOKEN_NONE, CR_BODY_NONE, h_seats},
    {"POST", "/api/v1/users/{userId}/balance/charge", CR_TOKEN_NONE, CR_BODY_REQUIRED, h_charge},
    {"POST", "/api/v1/payments", CR_TOKEN_NONE, CR_BODY_OPTIONAL, h_pay},
    {"DELETE", "/api/v1/reservations/{reservationId}", CR_TOKEN_NONE, CR_BODY_NONE, h_cancel},
};

static int header_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *envp[MAX_PARAMS + 1];
    int n = 0;
    const char *p = (const char *)data, *end = p + size;
    struct stream body;
    struct cr_req req;
    struct cr_resp resp;

    /* Param lines up to the first empty one; the rest is the body. */
    while (p < end && *p != '\n') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n < MAX_PARAMS)
            envp[n++] = cr_arena_strndup(cr_fuzz_arena, p, len);
        p += len + (nl != NULL);
    }
    envp[n] = NULL;
    if (p < end)
        p++;
    body.p = p;
    body.left = (size_t)(end - p);
    size_t avail = body.left;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.arena = cr_fuzz_arena;
    cr_server_read(&req, envp, stream_read, &body);
    CR_FUZZ_CHECK(req.method != NULL && req.path != NULL && req.query != NULL);
    CR_FUZZ_CHECK(cr_is_safe_id(req.request_id));
    CR_FUZZ_CHECK(req.body != NULL && req.body_len <= CR_BODY_MAX && req.body_len <= avail);
    CR_FUZZ_CHECK(req.body[req.body_len] == '\0');
    if (req.content_length > 0 && req.content_length <= CR_BODY_MAX)
        CR_FUZZ_CHECK(req.body_len == ((size_t)req.content_length < avail
                                           ? (size_t)req.content_length : avail));
    else
        CR_FUZZ_CHECK(req.body_len == 0);

    cr_dispatch(routes, sizeof(routes) / sizeof(routes[0]), &req, &resp);
    /* What cr_server_write puts on the wire: a status, headers without a line break, and a
     * body that is strict JSON. */
    CR_FUZZ_CHECK(resp.status >= 200 && resp.status <= 599);
    for (int i = 0; i < resp.nheaders; i++)
        CR_FUZZ_CHECK(header_safe(resp.headers[i][0]) && header_safe(resp.headers[i][1]));
    CR_FUZZ_CHECK(resp.status == 204 || resp.body != NULL);
    if (resp.body != NULL) {
        const char *text = cr_json_text(cr_fuzz_arena, resp.body);
        json_object *again = NULL;
        CR_FUZZ_CHECK(cr_json_parse(text, strlen(text), &again) == CR_OK);
        json_object_put(again);
    }
    return cr_fuzz_done();
}
