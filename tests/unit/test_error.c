/* test_error.c: unit tests of the error table and of the contract's error body. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_http.h"

struct err_case {
    int err;
    int status;
    const char *code;
};

/* The table of API.md, row by row. */
static const struct err_case contract[] = {
    {CR_E_INVALID, 400, "INVALID_REQUEST"},
    {CR_E_TOKEN_MISSING, 401, "TOKEN_MISSING"},
    {CR_E_TOKEN_INVALID, 401, "TOKEN_INVALID"},
    {CR_E_TOKEN_NOT_ACTIVE, 403, "TOKEN_NOT_ACTIVE"},
    {CR_E_FORBIDDEN, 403, "FORBIDDEN"},
    {CR_E_NOT_FOUND, 404, "NOT_FOUND"},
    {CR_E_METHOD, 405, "METHOD_NOT_ALLOWED"},
    {CR_E_SEAT_UNAVAILABLE, 409, "SEAT_UNAVAILABLE"},
    {CR_E_HOLD_LIMIT, 409, "HOLD_LIMIT_REACHED"},
    {CR_E_ALREADY_PAID, 409, "RESERVATION_ALREADY_PAID"},
    {CR_E_NOT_PAID, 409, "RESERVATION_NOT_PAID"},
    {CR_E_REFUND_CLOSED, 409, "REFUND_CLOSED"},
    {CR_E_IDEM_REUSED, 409, "IDEMPOTENCY_KEY_REUSED"},
    {CR_E_IN_PROGRESS, 409, "REQUEST_IN_PROGRESS"},
    {CR_E_EXPIRED, 410, "RESERVATION_EXPIRED"},
    {CR_E_TOO_LARGE, 413, "PAYLOAD_TOO_LARGE"},
    {CR_E_MEDIA_TYPE, 415, "UNSUPPORTED_MEDIA_TYPE"},
    {CR_E_INSUFFICIENT, 422, "INSUFFICIENT_BALANCE"},
    {CR_E_BALANCE_LIMIT, 422, "BALANCE_LIMIT_EXCEEDED"},
    {CR_E_RATE_LIMIT, 429, "TOO_MANY_REQUESTS"},
    {CR_E_INTERNAL, 500, "INTERNAL_ERROR"},
    {CR_E_UNAVAILABLE, 503, "SERVICE_UNAVAILABLE"},
    {CR_E_SALES_NOT_OPEN, 409, "SALES_NOT_OPEN"},
};

#define NCONTRACT (sizeof(contract) / sizeof(contract[0]))

struct resp_fixture {
    struct cr_req req;
    struct cr_resp resp;
};

static int setup(void **state)
{
    static struct resp_fixture f;
    memset(&f, 0, sizeof(f));
    f.req.arena = cr_arena_new();
    if (f.req.arena == NULL)
        return -1;
    f.req.request_id = "req-abc_123";
    f.req.content_length = -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct resp_fixture *f = *state;
    cr_arena_free(f->req.arena); /* puts the response body */
    return 0;
}

static void test_contract_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONTRACT; i++) {
        const struct cr_error_info *e = cr_error_info(contract[i].err);
        assert_non_null(e);
        assert_int_equal(e->status, contract[i].status);
        assert_string_equal(e->code, contract[i].code);
        assert_non_null(e->message);
        assert_true(strlen(e->message) > 0);
    }
}

static void test_every_code_is_covered(void **state)
{
    (void)state;
    /* Every negative code of the enum is either a contract row or internal-only. */
    for (int err = -1; err > -CR_E__COUNT; err--) {
        int found = 0;
        for (size_t i = 0; i < NCONTRACT; i++)
            found |= contract[i].err == err;
        if (!found) {
            assert_true(err == CR_E_RETRY || err == CR_E_DUPLICATE || err == CR_E_UNKNOWN);
        }
    }
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const int unknown[] = {1, 2, 200, 404, INT_MAX, -CR_E__COUNT, -CR_E__COUNT - 1, -100, -1000, INT_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const struct cr_error_info *e = cr_error_info(unknown[i]);
        assert_non_null(e);
        assert_int_equal(e->status, 500);
        assert_string_equal(e->code, "INTERNAL_ERROR");
    }
}

static void test_internal_only_codes(void **state)
{
    (void)state;
    assert_int_equal(cr_error_info(CR_E_RETRY)->status, 500);
    assert_string_equal(cr_error_info(CR_E_RETRY)->code, "INTERNAL_ERROR");
    assert_int_equal(cr_error_info(CR_E_DUPLICATE)->status, 500);
    assert_string_equal(cr_error_info(CR_E_DUPLICATE)->code, "INTERNAL_ERROR");
    /* Their messages are the generic one, not a hint about retries or keys. */
    assert_string_equal(cr_error_info(CR_E_RETRY)->message, cr_error_info(CR_E_INTERNAL)->message);
    assert_string_equal(cr_error_info(CR_E_DUPLICATE)->message,
                        cr_error_info(CR_E_INTERNAL)->message);
    /* An unknown outcome is a 500, never the 503 that tells a client to retry. */
    assert_int_equal(cr_error_info(CR_E_UNKNOWN)->status, 500);
    assert_string_equal(cr_error_info(CR_E_UNKNOWN)->code, "INTERNAL_ERROR");
}

/* Returns the string member key of obj, failing the test when it is not a string. */
static const char *get_str(json_object *obj, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(obj, key, &v));
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* The inner "error" object of resp, after checking the body's shape. */
static json_object *error_obj(struct cr_resp *resp)
{
    json_object *inner = NULL;
    assert_non_null(resp->body);
    assert_null(resp->raw);
    assert_true(json_object_is_type(resp->body, json_type_object));
    assert_int_equal(json_object_object_length(resp->body), 1);
    assert_true(json_object_object_get_ex(resp->body, "error", &inner));
    assert_true(json_object_is_type(inner, json_type_object));
    assert_int_equal(json_object_object_length(inner), 3);
    return inner;
}

/* The value of header name in resp, NULL when absent. */
static const char *find_header(struct cr_resp *resp, const char *name)
{
    for (int i = 0; i < resp->nheaders; i++)
        if (strcmp(resp->headers[i][0], name) == 0)
            return resp->headers[i][1];
    return NULL;
}

static void test_resp_error_body(void **state)
{
    struct resp_fixture *f = *state;
    cr_resp_error(&f->req, &f->resp, CR_E_NOT_FOUND);
    assert_int_equal(f->resp.status, 404);
    json_object *e = error_obj(&f->resp);
    assert_string_equal(get_str(e, "code"), "NOT_FOUND");
    assert_string_equal(get_str(e, "message"), cr_error_info(CR_E_NOT_FOUND)->message);
    assert_string_equal(get_str(e, "requestId"), "req-abc_123");
    assert_null(find_header(&f->resp, "Retry-After"));
}

static void test_resp_error_every_code(void **state)
{
    struct resp_fixture *f = *state;
    for (size_t i = 0; i < NCONTRACT; i++) {
        memset(&f->resp, 0, sizeof(f->resp));
        cr_resp_error(&f->req, &f->resp, contract[i].err);
        assert_int_equal(f->resp.status, contract[i].status);
        assert_string_equal(get_str(error_obj(&f->resp), "code"), contract[i].code);
    }
}

static void test_resp_error_uses_errmsg_for_4xx(void **state)
{
    struct resp_fixture *f = *state;
    int rc = cr_fail(&f->req, CR_E_SEAT_UNAVAILABLE, "seat %d of schedule %d is held or sold", 12, 3);
    assert_int_equal(rc, CR_E_SEAT_UNAVAILABLE);
    cr_resp_error(&f->req, &f->resp, rc);
    assert_int_equal(f->resp.status, 409);
    json_object *e = error_obj(&f->resp);
    assert_string_equal(get_str(e, "code"), "SEAT_UNAVAILABLE");
    assert_string_equal(get_str(e, "message"), "seat 12 of schedule 3 is held or sold");
}

static void test_resp_error_hides_errmsg_for_5xx(void **state)
{
    struct resp_fixture *f = *state;
    static const int codes[] = {CR_E_INTERNAL, CR_E_UNAVAILABLE, CR_E_RETRY, CR_E_DUPLICATE, 7};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        memset(&f->resp, 0, sizeof(f->resp));
        f->req.errmsg = "SELECT * FROM users failed in /srv/concert/cr_db.c";
        cr_resp_error(&f->req, &f->resp, codes[i]);
        assert_true(f->resp.status >= 500);
        json_object *e = error_obj(&f->resp);
        assert_string_equal(get_str(e, "message"), cr_error_info(codes[i])->message);
        const char *text = json_object_to_json_string(f->resp.body);
        assert_null(strstr(text, "SELECT"));
        assert_null(strstr(text, "/srv"));
    }
}

static void test_resp_error_retry_after(void **state)
{
    struct resp_fixture *f = *state;
    cr_resp_error(&f->req, &f->resp, CR_E_UNAVAILABLE);
    assert_int_equal(f->resp.status, 503);
    assert_non_null(find_header(&f->resp, "Retry-After"));
    assert_true(atoi(find_header(&f->resp, "Retry-After")) >= 1);

    memset(&f->resp, 0, sizeof(f->resp));
    cr_resp_error(&f->req, &f->resp, CR_E_RATE_LIMIT);
    assert_int_equal(f->resp.status, 429);
    assert_non_null(find_header(&f->resp, "Retry-After"));
    assert_true(atoi(find_header(&f->resp, "Retry-After")) >= 1);

    static const int none[] = {CR_E_INVALID, CR_E_INTERNAL, CR_E_SEAT_UNAVAILABLE, CR_E_METHOD};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        memset(&f->resp, 0, sizeof(f->resp));
        cr_resp_error(&f->req, &f->resp, none[i]);
        assert_null(find_header(&f->resp, "Retry-After"));
    }
}

static void test_resp_error_replaces_raw(void **state)
{
    struct resp_fixture *f = *state;
    f->resp.raw = "{\"ok\":true}";
    f->resp.status = 200;
    cr_resp_error(&f->req, &f->resp, CR_E_INVALID);
    assert_int_equal(f->resp.status, 400);
    assert_null(f->resp.raw);
    assert_string_equal(get_str(error_obj(&f->resp), "code"), "INVALID_REQUEST");
}

static void test_resp_error_without_request_id(void **state)
{
    struct resp_fixture *f = *state;
    f->req.request_id = NULL;
    cr_resp_error(&f->req, &f->resp, CR_E_FORBIDDEN);
    assert_int_equal(f->resp.status, 403);
    assert_string_equal(get_str(error_obj(&f->resp), "requestId"), "");
}

static void test_fail_records_message(void **state)
{
    struct resp_fixture *f = *state;
    char longarg[2000];
    memset(longarg, 'x', sizeof(longarg) - 1);
    longarg[sizeof(longarg) - 1] = '\0';
    assert_int_equal(cr_fail(&f->req, CR_E_INVALID, "amount must be from %d to %d", 1, 10000000),
                     CR_E_INVALID);
    assert_string_equal(f->req.errmsg, "amount must be from 1 to 10000000");
    /* A very long message is truncated, not overflowed. */
    assert_int_equal(cr_fail(&f->req, CR_E_INVALID, "%s", longarg), CR_E_INVALID);
    assert_true(strlen(f->req.errmsg) > 0 && strlen(f->req.errmsg) < sizeof(longarg) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_table),
        cmocka_unit_test(test_every_code_is_covered),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_internal_only_codes),
        /* cr_resp_error */
        cmocka_unit_test_setup_teardown(test_resp_error_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_every_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_uses_errmsg_for_4xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_hides_errmsg_for_5xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_replaces_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_error_without_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_records_message, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
