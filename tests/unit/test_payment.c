/* test_payment.c: unit tests of the payment's pure parts: the id set check, the Idempotency-Key
 * fingerprint and the 201 body. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_payment.h"

static const char *const ids_text[] = {
    "01a21172-7d51-7481-96ee-4da854056d81",
    "01a21172-7cec-788d-a979-40fd532e481d",
    "01a21172-7d51-7481-96ee-4da854056d80",
    "01a21172-0000-7000-8000-000000000000",
    "01a21173-0000-7000-8000-000000000000",
};

static void parse_ids(struct cr_uuid *ids, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(cr_uuid_parse(ids_text[i], &ids[i]), CR_OK);
}

static void test_check_ids(void **state)
{
    struct cr_uuid ids[5];
    (void)state;
    parse_ids(ids, 5);
    assert_int_equal(cr_payment_check_ids(ids, 0), CR_E_INVALID);
    for (int n = 1; n <= CR_PAYMENT_MAX_IDS; n++)
        assert_int_equal(cr_payment_check_ids(ids, n), CR_OK);
    assert_int_equal(cr_payment_check_ids(ids, 5), CR_E_INVALID);
    ids[3] = ids[1];
    assert_int_equal(cr_payment_check_ids(ids, 4), CR_E_INVALID);
    assert_int_equal(cr_payment_check_ids(ids, 3), CR_OK);
}

static void test_fingerprint_is_order_free(void **state)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_uuid ids[4], rev[4];
    (void)state;
    parse_ids(ids, 4);
    for (int i = 0; i < 4; i++)
        rev[i] = ids[3 - i];
    const char *f = cr_payment_fingerprint(a, ids, 4);
    assert_string_equal(f, "ids=01a21172-0000-7000-8000-000000000000,"
                           "01a21172-7cec-788d-a979-40fd532e481d,"
                           "01a21172-7d51-7481-96ee-4da854056d80,"
                           "01a21172-7d51-7481-96ee-4da854056d81");
    assert_string_equal(cr_payment_fingerprint(a, rev, 4), f);
    /* A subset is another request. */
    assert_string_not_equal(cr_payment_fingerprint(a, ids, 3), f);
    assert_string_equal(cr_payment_fingerprint(a, ids, 1),
                        "ids=01a21172-7d51-7481-96ee-4da854056d81");
    cr_arena_free(a);
}

static void test_body(void **state)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_payment p;
    (void)state;
    memset(&p, 0, sizeof(p));
    parse_ids(p.reservations, 2);
    assert_int_equal(cr_uuid_parse("01a21172-aaaa-7bbb-8ccc-dddddddddddd", &p.id), CR_OK);
    assert_int_equal(cr_uuid_parse("01a21172-1111-7222-8333-444444444444", &p.user), CR_OK);
    p.nreservations = 2;
    p.amount = 3000;
    p.balance = 7000;
    p.paid_at = 1798138800123LL;
    json_object *o = cr_payment_json(&p);
    assert_string_equal(cr_json_text(a, o),
                        "{\"paymentId\":\"01a21172-aaaa-7bbb-8ccc-dddddddddddd\","
                        "\"userId\":\"01a21172-1111-7222-8333-444444444444\","
                        "\"reservationIds\":[\"01a21172-7d51-7481-96ee-4da854056d81\","
                        "\"01a21172-7cec-788d-a979-40fd532e481d\"],"
                        "\"amount\":3000,\"balance\":7000,\"status\":\"PAID\","
                        "\"paidAt\":\"2026-12-24T19:00:00.123Z\"}");
    json_object_put(o);
    cr_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_ids),
        cmocka_unit_test(test_fingerprint_is_order_free),
        cmocka_unit_test(test_body),
    };
    return cmocka_run_group_tests_name("payment", tests, NULL, NULL);
}
