/* test_route.c: unit tests of route matching, the dispatcher and request parameter parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cr_error.h"
#include "cr_http.h"
#include "cr_json.h"
#include "cr_route.h"
#include "cr_text.h"

struct route_fixture {
    struct cr_req req;
    struct cr_resp resp;
};

static int handler_calls;

static int setup(void **state)
{
    static struct route_fixture f;
    memset(&f, 0, sizeof(f));
    f.req.arena = cr_arena_new();
    if (f.req.arena == NULL)
        return -1;
    f.req.method = "GET";
    f.req.path = "/";
    f.req.query = "";
    f.req.request_id = "test-req-1";
    f.req.content_length = -1;
    f.req.body = "";
    handler_calls = 0;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct route_fixture *f = *state;
    cr_arena_free(f->req.arena);
    return 0;
}

/* ---- fake handlers ------------------------------------------------------ */

/* 200 {"ok": true, "param": <first param or null>} */
static int h_ok(struct cr_req *req, struct cr_resp *resp)
{
    handler_calls++;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    cr_json_add_str(o, "param", req->nparams > 0 ? req->params[0] : NULL);
    return cr_resp_json(req, resp, 200, o);
}

/* 201 with the parsed body echoed back. */
static int h_echo(struct cr_req *req, struct cr_resp *resp)
{
    json_object *body = NULL;
    handler_calls++;
    int rc = cr_json_body(req, &body);
    if (rc != CR_OK)
        return rc;
    return cr_resp_json(req, resp, 201, json_object_get(body));
}

static int h_seat(struct cr_req *req, struct cr_resp *resp)
{
    (void)resp;
    handler_calls++;
    return cr_fail(req, CR_E_SEAT_UNAVAILABLE, "seat 12 of schedule 3 is held or sold");
}

static int h_internal(struct cr_req *req, struct cr_resp *resp)
{
    (void)resp;
    handler_calls++;
    req->errdetail = "mysql_stmt_execute: Deadlock found";
    return cr_fail(req, CR_E_INTERNAL, "SELECT balance FROM users failed in /srv/cr_db.c");
}

/* The table of the matching tests. */
static const struct cr_route match_routes[] = {
    {"GET", "/api/v1/users/{userId}/balance", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"POST", "/api/v1/users/{userId}/balance", CR_TOKEN_NONE, CR_BODY_REQUIRED, h_echo},
    {"POST", "/api/v1/users", CR_TOKEN_NONE, CR_BODY_OPTIONAL, h_echo},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"DELETE", "/api/v1/reservations/{reservationId}", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"GET", "/api/v1/reservations/{reservationId}", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"GET", "/api/v1/a/{x}/b/{y}", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
};

#define NMATCH (sizeof(match_routes) / sizeof(match_routes[0]))

/* The table of the dispatcher tests: no route needs a token (the gate talks to Redis). */
static const struct cr_route dispatch_routes[] = {
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"POST", "/api/v1/users", CR_TOKEN_NONE, CR_BODY_OPTIONAL, h_echo},
    {"GET", "/api/v1/users/{userId}/balance", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"POST", "/api/v1/users/{userId}/balance", CR_TOKEN_NONE, CR_BODY_NONE, h_ok},
    {"POST", "/api/v1/users/{userId}/balance/charge", CR_TOKEN_NONE, CR_BODY_REQUIRED, h_echo},
    {"POST", "/api/v1/seat", CR_TOKEN_NONE, CR_BODY_OPTIONAL, h_seat},
    {"GET", "/api/v1/boom", CR_TOKEN_NONE, CR_BODY_NONE, h_internal},
};

#define NDISPATCH (sizeof(dispatch_routes) / sizeof(dispatch_routes[0]))

/* ---- cr_route_match ----------------------------------------------------- */

static enum cr_match match(struct route_fixture *f, const char *method, const char *path,
                           const struct cr_route **route, char *allow, size_t allowlen)
{
    f->req.method = method;
    f->req.path = path;
    f->req.nparams = 0;
    *route = NULL;
    return cr_route_match(match_routes, NMATCH, &f->req, route, allow, allowlen);
}

static void test_match_found(void **state)
{
    struct route_fixture *f = *state;
    const struct cr_route *r;
    char allow[64];
    assert_int_equal(match(f, "GET", "/api/v1/users/u-123/balance", &r, allow, sizeof(allow)),
                     CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[0]);
    assert_int_equal(f->req.nparams, 1);
    assert_string_equal(f->req.params[0], "u-123");

    assert_int_equal(match(f, "POST", "/api/v1/users/u-456/balance", &r, allow, sizeof(allow)),
                     CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[1]);
    assert_string_equal(f->req.params[0], "u-456");

    assert_int_equal(match(f, "POST", "/api/v1/users", &r, allow, sizeof(allow)), CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[2]);
    assert_int_equal(f->req.nparams, 0);

    assert_int_equal(match(f, "GET", "/healthz", &r, allow, sizeof(allow)), CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[3]);

    assert_int_equal(match(f, "DELETE", "/api/v1/reservations/r1", &r, allow, sizeof(allow)),
                     CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[4]);
    assert_string_equal(f->req.params[0], "r1");
    assert_int_equal(match(f, "GET", "/api/v1/reservations/r2", &r, allow, sizeof(allow)),
                     CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[5]);
    assert_string_equal(f->req.params[0], "r2");
}

static void test_match_two_params(void **state)
{
    struct route_fixture *f = *state;
    const struct cr_route *r;
    char allow[64];
    assert_int_equal(match(f, "GET", "/api/v1/a/first/b/second", &r, allow, sizeof(allow)),
                     CR_MATCH_FOUND);
    assert_ptr_equal(r, &match_routes[6]);
    assert_int_equal(f->req.nparams, 2);
    assert_string_equal(f->req.params[0], "first");
    assert_string_equal(f->req.params[1], "second");
}

static void test_match_not_found(void **state)
{
    struct route_fixture *f = *state;
    const struct cr_route *r;
    char allow[64];
    static const char *const paths[] = {
        "/nope",
        "/",
        "",
        "/healthz/",
        "/healthzz",
        "/health",
        "/api/v1/users/",
        "/api/v1/users/u1/",
        "/api/v1/users/u1/balance/",
        "/api/v1/users/u1/balance/extra",
        "/api/v1/users//balance",
        "/api/v1/user",
        "/api/v1/usersx",
        "/api/v1/reservations/",
        "/api/v1/reservations",
        "/api/v1/reservations/a/b",
        "/api/v1/a//b/y",
        "/api/v1/a/x/b/",
        "//healthz",
        "/API/v1/users",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (match(f, "GET", paths[i], &r, allow, sizeof(allow)) != CR_MATCH_NOT_FOUND)
            fail_msg("matched: %s", paths[i]);
        assert_null(r);
    }
}

static void test_match_wrong_method(void **state)
{
    struct route_fixture *f = *state;
    const struct cr_route *r;
    char allow[64];
    assert_int_equal(match(f, "DELETE", "/api/v1/users/u1/balance", &r, allow, sizeof(allow)),
                     CR_MATCH_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_null(r);
    assert_int_equal(match(f, "PUT", "/api/v1/reservations/r1", &r, allow, sizeof(allow)),
                     CR_MATCH_METHOD);
    assert_string_equal(allow, "DELETE, GET");
    assert_int_equal(match(f, "GET", "/api/v1/users", &r, allow, sizeof(allow)), CR_MATCH_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(match(f, "POST", "/healthz", &r, allow, sizeof(allow)), CR_MATCH_METHOD);
    assert_string_equal(allow, "GET");
    /* Methods are case-sensitive. */
    assert_int_equal(match(f, "get", "/healthz", &r, allow, sizeof(allow)), CR_MATCH_METHOD);
    /* A found route leaves allow empty. */
    assert_int_equal(match(f, "GET", "/healthz", &r, allow, sizeof(allow)), CR_MATCH_FOUND);
    assert_string_equal(allow, "");
}

/* ---- cr_dispatch -------------------------------------------------------- */

static void dispatch(struct route_fixture *f, const char *method, const char *path,
                     const char *content_type, const char *body)
{
    f->req.method = method;
    f->req.path = path;
    f->req.content_type = content_type;
    f->req.body = body;
    f->req.body_len = strlen(body);
    if (f->req.content_length < 0 && *body != '\0')
        f->req.content_length = (long long)strlen(body);
    cr_dispatch(dispatch_routes, NDISPATCH, &f->req, &f->resp);
}

static const char *find_header(struct cr_resp *resp, const char *name)
{
    for (int i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i][0], name) == 0)
            return resp->headers[i][1];
    return NULL;
}

/* Checks that resp is the contract's error body with this status and code; returns its message. */
static const char *assert_error(struct route_fixture *f, int status, const char *code)
{
    json_object *inner = NULL, *v = NULL;
    assert_int_equal(f->resp.status, status);
    assert_non_null(f->resp.body);
    assert_true(json_object_object_get_ex(f->resp.body, "error", &inner));
    assert_true(json_object_object_get_ex(inner, "code", &v));
    assert_string_equal(json_object_get_string(v), code);
    assert_true(json_object_object_get_ex(inner, "requestId", &v));
    assert_string_equal(json_object_get_string(v), "test-req-1");
    assert_true(json_object_object_get_ex(inner, "message", &v));
    return json_object_get_string(v);
}

static void test_dispatch_ok(void **state)
{
    struct route_fixture *f = *state;
    json_object *v = NULL;
    dispatch(f, "GET", "/api/v1/users/abc/balance", NULL, "");
    assert_int_equal(handler_calls, 1);
    assert_int_equal(f->resp.status, 200);
    assert_true(json_object_object_get_ex(f->resp.body, "param", &v));
    assert_string_equal(json_object_get_string(v), "abc");
}

static void test_dispatch_404(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "GET", "/api/v1/nothing", NULL, "");
    assert_error(f, 404, "NOT_FOUND");
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_405(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "DELETE", "/api/v1/users/abc/balance", NULL, "");
    assert_error(f, 405, "METHOD_NOT_ALLOWED");
    assert_int_equal(handler_calls, 0);
    assert_non_null(find_header(&f->resp, "Allow"));
    assert_string_equal(find_header(&f->resp, "Allow"), "GET, POST");
}

static void test_dispatch_405_before_body_checks(void **state)
{
    struct route_fixture *f = *state;
    f->req.content_length = 20000;
    dispatch(f, "PUT", "/api/v1/users", "text/plain", "hello");
    assert_error(f, 405, "METHOD_NOT_ALLOWED");
    assert_string_equal(find_header(&f->resp, "Allow"), "POST");
}

static void test_dispatch_415(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/users", "text/plain", "{}");
    assert_error(f, 415, "UNSUPPORTED_MEDIA_TYPE");
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_415_other_types(void **state)
{
    struct route_fixture *f = *state;
    static const char *const bad[] = {"application/jsonx", "application/json-patch+json",
                                      "application/x-www-form-urlencoded", "json", "",
                                      "text/json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&f->resp, 0, sizeof(f->resp));
        dispatch(f, "POST", "/api/v1/users", bad[i], "{}");
        if (f->resp.status != 415)
            fail_msg("content type %s gave %d", bad[i], f->resp.status);
    }
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_json_with_charset(void **state)
{
    struct route_fixture *f = *state;
    json_object *v = NULL;
    dispatch(f, "POST", "/api/v1/users/u1/balance/charge", "application/json; charset=utf-8",
             "{\"amount\": 10000}");
    assert_int_equal(handler_calls, 1);
    assert_int_equal(f->resp.status, 201);
    assert_true(json_object_object_get_ex(f->resp.body, "amount", &v));
    assert_int_equal(json_object_get_int64(v), 10000);
}

static void test_dispatch_json_variants(void **state)
{
    struct route_fixture *f = *state;
    static const char *const ok[] = {"application/json", "Application/JSON",
                                     "application/json;charset=UTF-8"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        memset(&f->resp, 0, sizeof(f->resp));
        dispatch(f, "POST", "/api/v1/users", ok[i], "{}");
        if (f->resp.status != 201)
            fail_msg("content type %s gave %d", ok[i], f->resp.status);
    }
    assert_int_equal(handler_calls, 3);
}

static void test_dispatch_body_without_type(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/users", NULL, "{}");
    assert_error(f, 415, "UNSUPPORTED_MEDIA_TYPE");
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_optional_body_absent(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/users", NULL, "");
    assert_int_equal(handler_calls, 1);
    assert_int_equal(f->resp.status, 201);
    assert_int_equal(json_object_object_length(f->resp.body), 0);
}

static void test_dispatch_required_body_missing(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/users/u1/balance/charge", "application/json", "");
    assert_error(f, 400, "INVALID_REQUEST");
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_malformed_body(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/users/u1/balance/charge", "application/json", "{\"amount\":");
    const char *msg = assert_error(f, 400, "INVALID_REQUEST");
    assert_non_null(strstr(msg, "JSON"));
}

static void test_dispatch_413(void **state)
{
    struct route_fixture *f = *state;
    f->req.content_length = 20000;
    dispatch(f, "POST", "/api/v1/users/u1/balance/charge", "application/json", "{}");
    assert_error(f, 413, "PAYLOAD_TOO_LARGE");
    assert_int_equal(handler_calls, 0);
}

static void test_dispatch_at_limit(void **state)
{
    struct route_fixture *f = *state;
    f->req.content_length = CR_BODY_MAX;
    dispatch(f, "POST", "/api/v1/users", "application/json", "{}");
    assert_int_equal(f->resp.status, 201);
    assert_int_equal(handler_calls, 1);
}

static void test_dispatch_handler_4xx_message(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "POST", "/api/v1/seat", NULL, "");
    assert_int_equal(handler_calls, 1);
    const char *msg = assert_error(f, 409, "SEAT_UNAVAILABLE");
    assert_string_equal(msg, "seat 12 of schedule 3 is held or sold");
}

static void test_dispatch_handler_500_no_leak(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "GET", "/api/v1/boom", NULL, "");
    assert_int_equal(handler_calls, 1);
    const char *msg = assert_error(f, 500, "INTERNAL_ERROR");
    assert_string_equal(msg, cr_error_info(CR_E_INTERNAL)->message);
    const char *text = json_object_to_json_string(f->resp.body);
    assert_null(strstr(text, "SELECT"));
    assert_null(strstr(text, "/srv"));
    assert_null(strstr(text, "Deadlock"));
}

/* ---- cr_req_query ------------------------------------------------------- */

/* The value of name, asserting that the lookup succeeded (NULL when absent). */
static const char *query(struct route_fixture *f, const char *name)
{
    const char *v = (const char *)1;
    assert_int_equal(cr_req_query(&f->req, name, &v), CR_OK);
    return v;
}

/* The lookup's error, asserting that it failed with a message that repeats no value. */
static int query_fails(struct route_fixture *f, const char *name)
{
    const char *v = (const char *)1;
    f->req.errmsg = NULL;
    int rc = cr_req_query(&f->req, name, &v);
    assert_int_not_equal(rc, CR_OK);
    assert_non_null(f->req.errmsg);
    assert_non_null(strstr(f->req.errmsg, name));
    return rc;
}

static void test_query(void **state)
{
    struct route_fixture *f = *state;
    f->req.query = "a=1&name=John%20Doe&q=a+b&empty=&flag&pct=100%25"
                   "&hex=%4a%4B&enc%20key=x&last=%41&utf=caf%C3%A9";
    assert_string_equal(query(f, "a"), "1");
    assert_string_equal(query(f, "name"), "John Doe");
    assert_string_equal(query(f, "q"), "a b");
    assert_string_equal(query(f, "empty"), "");
    assert_string_equal(query(f, "flag"), "");
    assert_string_equal(query(f, "pct"), "100%");
    assert_string_equal(query(f, "hex"), "JK");
    assert_string_equal(query(f, "last"), "A");
    assert_string_equal(query(f, "utf"), "caf\xc3\xa9");
    assert_null(query(f, "missing"));
    assert_null(query(f, "nam"));   /* a prefix of a name */
    assert_null(query(f, "names")); /* longer than a name */
    assert_null(query(f, "1"));     /* a value, not a name */
}

/* A value that decodes to a NUL (which would cut it short), a control character or invalid
 * UTF-8, a malformed escape, or a name given twice is refused, not passed on or truncated. */
static void test_query_rejects(void **state)
{
    struct route_fixture *f = *state;
    static const char *const bad[] = {
        "limit=5%00zz",   "limit=%00",      "limit=5%0a",     "limit=5%7f",
        "limit=%C2%85",   "limit=%ff",      "limit=%ed%a0%80", "limit=%c0%af",
        "limit=5\xff",    "limit=%zz",      "limit=%2",       "limit=5%",
        "limit=1&limit=2", "limit&limit=2", "a=1&limit=20&b=2&limit=20",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->req.query = bad[i];
        if (query_fails(f, "limit") != CR_E_INVALID)
            fail_msg("accepted %s", bad[i]);
    }
    /* Another parameter's trouble is not this lookup's (cr_req_check_text sees it). */
    f->req.query = "other=%00&limit=7";
    assert_string_equal(query(f, "limit"), "7");
}

static void test_query_empty_and_null(void **state)
{
    struct route_fixture *f = *state;
    f->req.query = "";
    assert_null(query(f, "a"));
    f->req.query = NULL;
    assert_null(query(f, "a"));
    f->req.query = "&&a=2&";
    assert_string_equal(query(f, "a"), "2");
    f->req.query = "limit=20&before=abc";
    assert_string_equal(query(f, "limit"), "20");
    assert_string_equal(query(f, "before"), "abc");
}

/* ---- cr_req_check_text ------------------------------------------------------ */

static int check_text(struct route_fixture *f, const char *path, const char *query_string,
                      const char *content_type)
{
    f->req.path = path;
    f->req.query = query_string;
    f->req.content_type = content_type;
    f->req.errmsg = NULL;
    int rc = cr_req_check_text(&f->req);
    if (rc != CR_OK) {
        assert_non_null(f->req.errmsg);
        assert_true(cr_text_clean(f->req.errmsg, strlen(f->req.errmsg)));
    }
    return rc;
}

static void test_check_text(void **state)
{
    struct route_fixture *f = *state;
    assert_int_equal(check_text(f, "/api/v1/concerts", "", NULL), CR_OK);
    assert_int_equal(check_text(f, "/api/v1/caf\xc3\xa9", "a=1&b&c=%41+b&&", NULL), CR_OK);
    assert_int_equal(check_text(f, "/x", NULL, "application/json; charset=utf-8"), CR_OK);
    static const struct {
        const char *path, *query, *ct;
    } bad[] = {
        {"/api/v1/users/\xff\xfe/balance", "", NULL},
        {"/api/v1/users/\xed\xa0\x80", "", NULL},
        {"/api/v1/\x01", "", NULL},
        {"/api/v1/\x7f", "", NULL},
        {"/api/v1/concerts", "x=%00", NULL},
        {"/api/v1/concerts", "%00=1", NULL},
        {"/api/v1/concerts", "a=1&b=%ff", NULL},
        {"/api/v1/concerts", "a=%1", NULL},
        {"/api/v1/concerts", "a\x1b=1", NULL},
        {"/api/v1/concerts", "", "application/json\x01"},
        {"/api/v1/concerts", "", "application/json; charset=\xff"},
        {"/api/v1/concerts", "", "application/json\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (check_text(f, bad[i].path, bad[i].query, bad[i].ct) != CR_E_INVALID)
            fail_msg("accepted case %zu", i);
}

/* The dispatcher refuses such a request before routing, with a message that holds none of
 * its bytes (no 404 "no route for <path>" echo). */
static void test_dispatch_refuses_unclean_text(void **state)
{
    struct route_fixture *f = *state;
    dispatch(f, "GET", "/api/v1/\xff\xfe", NULL, "");
    assert_int_equal(handler_calls, 0);
    const char *msg = assert_error(f, 400, "INVALID_REQUEST");
    assert_true(cr_text_clean(msg, strlen(msg)));
    const char *text = json_object_to_json_string(f->resp.body);
    assert_true(cr_utf8_valid(text, strlen(text)));
    assert_null(strstr(text, "\xff"));
    /* A valid unknown path is a 404 that does not repeat it either. */
    dispatch(f, "GET", "/api/v1/nowhere-\xc3\xa9", NULL, "");
    msg = assert_error(f, 404, "NOT_FOUND");
    assert_null(strstr(msg, "nowhere"));
}

/* ---- cr_req_param_id, cr_req_param_uuid, cr_is_safe_id -------------------- */

static int param_id(struct route_fixture *f, const char *s, long long *out)
{
    f->req.params[0] = s;
    f->req.nparams = 1;
    f->req.errmsg = NULL;
    *out = -42;
    int rc = cr_req_param_id(&f->req, 0, "scheduleId", out);
    if (rc != CR_OK) {
        assert_int_equal(*out, -42);
        assert_non_null(f->req.errmsg);
        assert_non_null(strstr(f->req.errmsg, "scheduleId"));
    }
    return rc;
}

static void test_param_id(void **state)
{
    struct route_fixture *f = *state;
    long long v;
    assert_int_equal(param_id(f, "3", &v), CR_OK);
    assert_int_equal(v, 3);
    assert_int_equal(param_id(f, "9223372036854775807", &v), CR_OK);
    assert_true(v == INT64_MAX);
    static const char *const bad[] = {"0",  "-1",   "abc", "3x", "",    "99999999999999999999",
                                      " 3", "+3",   "3 ",  "0x3", "3.0", "9223372036854775808",
                                      "-0", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (param_id(f, bad[i], &v) != CR_E_INVALID)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    /* An index past the captures */
    f->req.nparams = 1;
    assert_int_equal(cr_req_param_id(&f->req, 1, "scheduleId", &v), CR_E_INVALID);
}

static void test_param_uuid(void **state)
{
    struct route_fixture *f = *state;
    struct cr_uuid u;
    f->req.params[0] = "0190f5e2-abcd-7ef0-8123-456789abcdef";
    f->req.params[1] = "not-a-uuid";
    f->req.nparams = 2;
    assert_int_equal(cr_req_param_uuid(&f->req, 0, "userId", &u), CR_OK);
    assert_int_equal(u.b[0], 0x01);
    assert_int_equal(u.b[15], 0xef);
    assert_int_equal(cr_req_param_uuid(&f->req, 1, "userId", &u), CR_E_INVALID);
    assert_non_null(strstr(f->req.errmsg, "userId"));
    assert_int_equal(cr_req_param_uuid(&f->req, 2, "userId", &u), CR_E_INVALID);
}

static void test_is_safe_id(void **state)
{
    (void)state;
    char s64[65], s65[66];
    memset(s64, 'a', 64);
    s64[64] = '\0';
    memset(s65, 'a', 65);
    s65[65] = '\0';
    assert_true(cr_is_safe_id("a"));
    assert_true(cr_is_safe_id("Z"));
    assert_true(cr_is_safe_id("0"));
    assert_true(cr_is_safe_id("-"));
    assert_true(cr_is_safe_id("_"));
    assert_true(cr_is_safe_id("AZaz09_-"));
    assert_true(cr_is_safe_id("3f2b9c0e1d4a5b6c7d8e9f0a1b2c3d4e"));
    assert_true(cr_is_safe_id(s64));
    assert_false(cr_is_safe_id(s65));
    assert_false(cr_is_safe_id(""));
    assert_false(cr_is_safe_id(NULL));
    static const char *const bad[] = {"a b", "a/b", "a.b", "a\nb", "a\"b", "a:b", "\xc3\xa9",
                                      "a%20", "a+b", "{}", "a\tb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cr_is_safe_id(bad[i]))
            fail_msg("accepted: \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_two_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_wrong_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_405_before_body_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_415, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_415_other_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_json_with_charset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_json_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_body_without_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_optional_body_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_required_body_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_malformed_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_at_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_handler_4xx_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_handler_500_no_leak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_refuses_unclean_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_empty_and_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_uuid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_safe_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
