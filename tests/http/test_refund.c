/* test_refund.c: refunds (API.md 17) through nginx, the contract's cases one by one: the 200
 * and everything it writes (reservation, seat on sale at once, REFUND entry, the payment's
 * refundedAmount and its history), a repeat, cancelling and paying a refunded reservation,
 * the 409s of a never-paid one, 403 checked first, the deadline, bad requests, and 20
 * concurrent refunds of one reservation crediting once. Then bench/invariants.sql, against a
 * run made before the tests. The race with holds and the expiry job is test_refund_race. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_time.h"
#include "cr_uuid.h"
#include "refund_fixture.h"

#define RICH 1000000LL
#define HOUR_MS (3600LL * 1000)

static long long rf_sched; /* 500 seats; each test takes fresh ones */
static int rf_next_seat = 1;
static struct rf_invariants rf_before;

/* Every user a test made, for the money rule at the end. */
static char rf_users[64][37];
static int rf_nusers;

static void make_user(struct fx_user *u, long long balance)
{
    assert_int_equal(fx_user_new(u, balance), 1);
    assert_true(rf_nusers < 64);
    snprintf(rf_users[rf_nusers++], 37, "%s", u->id);
}

/* u buys a fresh seat of schedule; its reservation id into rid, its price returned. */
static long long buy_on(struct fx_user *u, long long schedule, char *rid)
{
    int seat = rf_next_seat++;
    assert_int_equal(rf_buy(u, schedule, seat, rid), 1);
    return 1000LL * seat;
}

static long long buy(struct fx_user *u, char *rid)
{
    return buy_on(u, rf_sched, rid);
}

static void unknown_id(char *buf)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_v7(&u, cr_time_now_ms()), CR_OK);
    cr_uuid_format(&u, buf);
}

static long long payment_db_id(const char *rid)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(rid, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT payment_id FROM reservations WHERE uuid = ?", p, 1);
}

static long long refunded_amount(long long payment_id)
{
    struct cr_db_val p[] = {CR_DB_I(payment_id)};
    return cr_test_db_int("SELECT refunded_amount FROM payments WHERE id = ?", p, 1);
}

/* The payment history's refundedAmount of payment_id, waiting up to 10 s for it to reach
 * want (it is written just after the refund's answer); returns the value seen last. */
static long long history_refunded_reach(long long payment_id, long long want)
{
    struct cr_db_val p[] = {CR_DB_I(payment_id)};
    long long v = -1;
    for (long long end = cr_test_now_ms() + 10000;;) {
        v = cr_test_db_int("SELECT refunded_amount FROM payment_history WHERE payment_id = ?", p,
                           1);
        if (v == want || cr_test_now_ms() > end)
            return v;
        cr_test_sleep_ms(20);
    }
}

/* Checks the contract's 200 body of a refund (the body of 12, status REFUNDED). */
static void assert_refund_body(const struct cr_test_res *r, const struct fx_user *u,
                               const char *rid, long long price)
{
    if (r->status != 200)
        print_error("refund: %ld %s\n", r->status, r->body);
    assert_int_equal(r->status, 200);
    assert_non_null(r->json);
    assert_int_equal(json_object_object_length(r->json), 7);
    assert_string_equal(cr_test_str(r, "reservationId"), rid);
    assert_string_equal(cr_test_str(r, "userId"), u->id);
    assert_int_equal(cr_test_int(r, "scheduleId"), rf_sched);
    assert_int_equal(cr_test_int(r, "price"), price);
    assert_int_equal(cr_test_int(r, "seatNo"), price / 1000);
    assert_string_equal(cr_test_str(r, "status"), "REFUNDED");
}

static long get_reservation(struct cr_test_res *r, const struct fx_user *u, const char *rid)
{
    char path[128];
    const char *h[] = {u->auth, NULL};
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    return cr_test_req(r, "GET", path, NULL, h);
}

/* The status the seat map shows for seat_no of rf_sched (with u's active token). */
static void seat_map_status(const struct fx_user *u, int seat_no, char *out)
{
    struct cr_test_res r;
    char path[128];
    json_object *seats, *v;
    const char *h[] = {u->auth, NULL};
    snprintf(path, sizeof(path), "/api/v1/schedules/%lld/seats", rf_sched);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, h), 200);
    assert_true(json_object_object_get_ex(r.json, "seats", &seats));
    json_object *seat = json_object_array_get_idx(seats, (size_t)(seat_no - 1));
    assert_true(json_object_object_get_ex(seat, "seatNo", &v));
    assert_int_equal(json_object_get_int64(v), seat_no);
    assert_true(json_object_object_get_ex(seat, "status", &v));
    snprintf(out, 16, "%s", json_object_get_string(v));
    cr_test_res_free(&r);
}

/* --- the refund and what it writes ----------------------------------------------------- */

static void test_refund_paid(void **state)
{
    struct fx_user a, c;
    struct cr_test_res r, g;
    char r1[37], r2[37], st[16], path[160], first[1024];
    json_object *list, *item, *v;
    (void)state;
    make_user(&a, RICH);
    make_user(&c, RICH);
    /* Two seats in one payment, so that refundedAmount is seen to grow. */
    int s1 = rf_next_seat++, s2 = rf_next_seat++;
    long long p1 = 1000LL * s1, p2 = 1000LL * s2;
    assert_int_equal(fx_hold(&a, rf_sched, s1, r1, NULL), 201);
    assert_int_equal(fx_hold(&a, rf_sched, s2, r2, NULL), 201);
    const char *rids[] = {r1, r2};
    assert_int_equal(fx_pay(&r, &a, rids, 2, NULL), 201);
    cr_test_res_free(&r);
    assert_int_equal(fx_token(&a), 1); /* the paying token is spent */
    assert_int_equal(get_reservation(&g, &a, r1), 200);
    char expires[40];
    snprintf(expires, sizeof(expires), "%s", cr_test_str(&g, "expiresAt"));
    cr_test_res_free(&g);
    long long pay_id = payment_db_id(r1);
    assert_int_equal(fx_history_rows_reach(a.id, 1), 1);
    assert_int_equal(history_refunded_reach(pay_id, 0), 0);

    rf_refund(&r, &a, r1, NULL);
    assert_refund_body(&r, &a, r1, p1);
    assert_string_equal(cr_test_str(&r, "expiresAt"), expires); /* kept */
    snprintf(first, sizeof(first), "%s", r.body);
    cr_test_res_free(&r);

    /* The database: reservation REFUNDED, its seat free, the credit and its entry, the
     * payment's refunded_amount, and the history through the outbox. */
    assert_string_equal(fx_res_status(r1, st), "REFUNDED");
    assert_string_equal(fx_seat_status(r1, st), "AVAILABLE");
    assert_string_equal(fx_res_status(r2, st), "PAID");
    assert_string_equal(fx_seat_status(r2, st), "SOLD");
    assert_int_equal(fx_balance(a.id), RICH - p1 - p2 + p1);
    long long sum = 0;
    assert_int_equal(rf_entries(a.id, "REFUND", &sum), 1);
    assert_int_equal(sum, p1);
    struct cr_db_val pr[] = {CR_DB_I(fx_reservation_db_id(r1))};
    assert_int_equal(cr_test_db_int("SELECT balance_after FROM balance_entries"
                                    " WHERE reservation_id = ? AND type = 'REFUND'",
                                    pr, 1),
                     RICH - p2);
    assert_int_equal(cr_test_db_int("SELECT payment_id FROM balance_entries"
                                    " WHERE reservation_id = ? AND type = 'REFUND'",
                                    pr, 1),
                     pay_id);
    assert_int_equal(refunded_amount(pay_id), p1);
    assert_int_equal(history_refunded_reach(pay_id, p1), p1);
    rf_assert_money_rule(a.id);

    /* 12 reads REFUNDED, with the same expiresAt. */
    assert_int_equal(get_reservation(&g, &a, r1), 200);
    assert_string_equal(cr_test_str(&g, "status"), "REFUNDED");
    assert_string_equal(cr_test_str(&g, "expiresAt"), expires);
    cr_test_res_free(&g);

    /* 15 shows the payment with its amount and what was refunded of it. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", a.id);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "payments", &list));
    assert_int_equal(json_object_array_length(list), 1);
    item = json_object_array_get_idx(list, 0);
    assert_int_equal(json_object_object_length(item), 5);
    assert_true(json_object_object_get_ex(item, "amount", &v));
    assert_int_equal(json_object_get_int64(v), p1 + p2);
    assert_true(json_object_object_get_ex(item, "refundedAmount", &v));
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), p1);
    assert_true(json_object_object_get_ex(item, "reservationIds", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), r1);
    cr_test_res_free(&r);

    /* 4 shows the REFUND entry, positive, newest first. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history?limit=2", a.id);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "entries", &list));
    item = json_object_array_get_idx(list, 0);
    assert_true(json_object_object_get_ex(item, "type", &v));
    assert_string_equal(json_object_get_string(v), "REFUND");
    assert_true(json_object_object_get_ex(item, "amount", &v));
    assert_int_equal(json_object_get_int64(v), p1);
    assert_true(json_object_object_get_ex(item, "balanceAfter", &v));
    assert_int_equal(json_object_get_int64(v), RICH - p2);
    cr_test_res_free(&r);

    /* The seat is on sale at once: the seat map says so and another user holds it. */
    seat_map_status(&c, s1, st);
    assert_string_equal(st, "AVAILABLE");
    char rc1[37];
    assert_int_equal(fx_hold(&c, rf_sched, s1, rc1, NULL), 201);
    seat_map_status(&c, s1, st);
    assert_string_equal(st, "HELD");

    /* A repeat: 200 with the same body, nothing changes. */
    rf_refund(&r, &a, r1, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, first);
    cr_test_res_free(&r);
    assert_int_equal(rf_entries(a.id, "REFUND", NULL), 1);
    assert_int_equal(fx_balance(a.id), RICH - p2);
    assert_int_equal(refunded_amount(pay_id), p1);

    /* Cancelling it: 204, nothing changes (and C's hold of the seat stays C's). */
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", r1);
    const char *ha[] = {a.auth, NULL};
    assert_int_equal(cr_test_req(&r, "DELETE", path, NULL, ha), 204);
    cr_test_res_free(&r);
    assert_string_equal(fx_res_status(r1, st), "REFUNDED");
    assert_string_equal(fx_res_status(rc1, st), "HELD");
    assert_string_equal(fx_seat_status(rc1, st), "HELD");

    /* Paying it: 409 RESERVATION_ALREADY_PAID, nothing changes. */
    const char *only[] = {r1};
    fx_pay(&r, &a, only, 1, NULL);
    cr_test_assert_error(&r, 409, "RESERVATION_ALREADY_PAID");
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH - p2);
    assert_string_equal(fx_res_status(r1, st), "REFUNDED");

    /* The second seat of the payment: refundedAmount reaches the whole amount. */
    rf_refund(&r, &a, r2, NULL);
    assert_refund_body(&r, &a, r2, p2);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH);
    assert_int_equal(refunded_amount(pay_id), p1 + p2);
    assert_int_equal(history_refunded_reach(pay_id, p1 + p2), p1 + p2);
    assert_int_equal(rf_entries(a.id, "REFUND", &sum), 2);
    assert_int_equal(sum, p1 + p2);
    rf_assert_money_rule(a.id);
}

/* --- refusals -------------------------------------------------------------------------- */

static void test_refund_never_paid(void **state)
{
    struct fx_user a;
    struct cr_test_res r;
    char held[37], cancelled[37], expired[37], path[160], st[16];
    (void)state;
    make_user(&a, RICH);
    assert_int_equal(fx_hold(&a, rf_sched, rf_next_seat++, held, NULL), 201);
    assert_int_equal(fx_hold(&a, rf_sched, rf_next_seat++, cancelled, NULL), 201);
    assert_int_equal(fx_hold(&a, rf_sched, rf_next_seat++, expired, NULL), 201);
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", cancelled);
    const char *h[] = {a.auth, NULL};
    assert_int_equal(cr_test_req(&r, "DELETE", path, NULL, h), 204);
    cr_test_res_free(&r);
    /* A hold whose time ran out (the expiry job has not run: it reads EXPIRED anyway). */
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(expired, &u), CR_OK);
    struct cr_db_val pe[] = {CR_DB_T(cr_time_now_ms() - 1000), CR_DB_UUID(&u)};
    assert_int_equal(cr_db_exec("UPDATE reservations SET expires_at = ? WHERE uuid = ?", pe, 2,
                                NULL, NULL),
                     CR_OK);
    struct cr_db_val ps[] = {CR_DB_T(cr_time_now_ms() - 1000),
                             CR_DB_I(fx_reservation_db_id(expired))};
    assert_int_equal(cr_db_exec("UPDATE seats SET hold_expires_at = ? WHERE reservation_id = ?",
                                ps, 2, NULL, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();

    const char *which[] = {held, cancelled, expired};
    const char *want[] = {"HELD", "CANCELLED", "HELD"}; /* the column: nothing wrote EXPIRED */
    for (int i = 0; i < 3; i++) {
        rf_refund(&r, &a, which[i], NULL);
        cr_test_assert_error(&r, 409, "RESERVATION_NOT_PAID");
        cr_test_res_free(&r);
        assert_string_equal(fx_res_status(which[i], st), want[i]);
    }
    assert_string_equal(fx_seat_status(held, st), "HELD");
    assert_int_equal(rf_entries(a.id, "REFUND", NULL), 0);
    assert_int_equal(fx_balance(a.id), RICH);
}

static void test_refund_forbidden_first(void **state)
{
    struct fx_user a, b;
    struct cr_test_res r;
    char paid[37], held[37], late[37], st[16];
    (void)state;
    make_user(&a, RICH);
    make_user(&b, RICH);
    long long late_sched = fx_schedule(5);
    long long price = buy(&a, paid);
    assert_int_equal(fx_hold(&a, rf_sched, rf_next_seat++, held, NULL), 201);
    assert_int_equal(rf_buy(&a, late_sched, 1, late), 1);
    struct cr_db_val p[] = {CR_DB_T(cr_time_now_ms() + HOUR_MS), CR_DB_I(late_sched)};
    assert_int_equal(cr_db_exec("UPDATE schedules SET starts_at = ? WHERE id = ?", p, 2, NULL,
                                NULL),
                     CR_OK);

    /* Another user's: 403 whatever the reservation's state or its show's time. */
    const char *which[] = {paid, held, late};
    for (int i = 0; i < 3; i++) {
        rf_refund(&r, &b, which[i], NULL);
        cr_test_assert_error(&r, 403, "FORBIDDEN");
        cr_test_res_free(&r);
    }
    assert_string_equal(fx_res_status(paid, st), "PAID");
    assert_int_equal(fx_balance(a.id), RICH - price - 1000);
    assert_int_equal(fx_balance(b.id), RICH);
    assert_int_equal(rf_entries(a.id, "REFUND", NULL), 0);
}

static void test_refund_deadline(void **state)
{
    struct fx_user a;
    struct cr_test_res r;
    char rid[37], gone[37], st[16];
    (void)state;
    make_user(&a, RICH);
    long long sched = fx_schedule(5);
    assert_int_equal(rf_buy(&a, sched, 1, rid), 1);
    assert_int_equal(rf_buy(&a, sched, 2, gone), 1);
    long long paid = 1000 + 2000;

    /* The show starts in 23 h 59 min: inside REFUND_DEADLINE_HOURS (24): 409. */
    struct cr_db_val p[] = {CR_DB_T(cr_time_now_ms() + 24 * HOUR_MS - 60000), CR_DB_I(sched)};
    assert_int_equal(cr_db_exec("UPDATE schedules SET starts_at = ? WHERE id = ?", p, 2, NULL,
                                NULL),
                     CR_OK);
    rf_refund(&r, &a, rid, NULL);
    cr_test_assert_error(&r, 409, "REFUND_CLOSED");
    cr_test_res_free(&r);
    assert_string_equal(fx_res_status(rid, st), "PAID");
    assert_string_equal(fx_seat_status(rid, st), "SOLD");
    assert_int_equal(fx_balance(a.id), RICH - paid);

    /* A show that has started: 409 too. */
    struct cr_db_val q[] = {CR_DB_T(cr_time_now_ms() - HOUR_MS), CR_DB_I(sched)};
    assert_int_equal(cr_db_exec("UPDATE schedules SET starts_at = ? WHERE id = ?", q, 2, NULL,
                                NULL),
                     CR_OK);
    rf_refund(&r, &a, gone, NULL);
    cr_test_assert_error(&r, 409, "REFUND_CLOSED");
    cr_test_res_free(&r);

    /* 24 h and a minute ahead: allowed. */
    struct cr_db_val o[] = {CR_DB_T(cr_time_now_ms() + 24 * HOUR_MS + 60000), CR_DB_I(sched)};
    assert_int_equal(cr_db_exec("UPDATE schedules SET starts_at = ? WHERE id = ?", o, 2, NULL,
                                NULL),
                     CR_OK);
    rf_refund(&r, &a, rid, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(cr_test_str(&r, "status"), "REFUNDED");
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH - 2000);

    /* Once refunded, a repeat after the deadline is still the same 200. */
    assert_int_equal(cr_db_exec("UPDATE schedules SET starts_at = ? WHERE id = ?", p, 2, NULL,
                                NULL),
                     CR_OK);
    rf_refund(&r, &a, rid, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(cr_test_str(&r, "status"), "REFUNDED");
    cr_test_res_free(&r);
    assert_int_equal(rf_entries(a.id, "REFUND", NULL), 1);
    rf_assert_money_rule(a.id);
}

static void test_refund_bad_requests(void **state)
{
    struct fx_user a;
    struct cr_test_res r;
    char rid[37], unknown[37], path[160];
    (void)state;
    make_user(&a, RICH);
    long long price = buy(&a, rid);
    unknown_id(unknown);

    rf_refund(&r, &a, unknown, NULL);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/reservations/not-a-uuid/refund", NULL,
                                 (const char *[]){a.auth, NULL}),
                     400);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    snprintf(path, sizeof(path), "/api/v1/reservations/%s/refund", rid);
    cr_test_req(&r, "POST", path, NULL, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_MISSING");
    cr_test_res_free(&r);
    cr_test_req(&r, "POST", path, NULL, (const char *[]){"Authorization: Bearer nope", NULL});
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    cr_test_req(&r, "GET", path, NULL, (const char *[]){a.auth, NULL});
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH - price);

    /* A body is ignored, whatever it is. */
    assert_int_equal(cr_test_req(&r, "POST", path, "not json at all",
                                 (const char *[]){a.auth, "Content-Type: text/plain", NULL}),
                     200);
    assert_string_equal(cr_test_str(&r, "status"), "REFUNDED");
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH);
}

/* --- 20 concurrent refunds of one reservation ------------------------------------------ */

#define RACERS 20

struct race {
    struct fx_user u;
    char rid[37];
    long status[RACERS];
    char body[RACERS][1024];
};

static void race_one(int i, void *ctx)
{
    struct race *c = ctx;
    struct cr_test_res r;
    c->status[i] = rf_refund(&r, &c->u, c->rid, NULL);
    snprintf(c->body[i], sizeof(c->body[i]), "%s", r.body != NULL ? r.body : "");
    cr_test_res_free(&r);
}

static void test_twenty_concurrent_refunds(void **state)
{
    struct race *c = calloc(1, sizeof(*c));
    char st[16];
    (void)state;
    assert_non_null(c);
    make_user(&c->u, RICH);
    long long price = buy(&c->u, c->rid);
    long long pay_id = payment_db_id(c->rid);
    cr_test_parallel(RACERS, RACERS, race_one, c);
    for (int i = 0; i < RACERS; i++) {
        if (c->status[i] != 200)
            print_error("refund %d: %ld %s\n", i, c->status[i], c->body[i]);
        assert_int_equal(c->status[i], 200);
        assert_string_equal(c->body[i], c->body[0]);
    }
    assert_non_null(strstr(c->body[0], "\"REFUNDED\""));
    /* Credited once. */
    assert_int_equal(rf_entries(c->u.id, "REFUND", NULL), 1);
    assert_int_equal(fx_balance(c->u.id), RICH);
    assert_int_equal(refunded_amount(pay_id), price);
    assert_int_equal(history_refunded_reach(pay_id, price), price);
    assert_string_equal(fx_res_status(c->rid, st), "REFUNDED");
    assert_string_equal(fx_seat_status(c->rid, st), "AVAILABLE");
    rf_assert_money_rule(c->u.id);
    free(c);
}

/* --- afterwards ------------------------------------------------------------------------- */

static void test_money_rule_and_invariants(void **state)
{
    struct rf_invariants after;
    (void)state;
    for (int i = 0; i < rf_nusers; i++)
        rf_assert_money_rule(rf_users[i]);
    rf_invariants_run(&after);
    rf_invariants_not_grown(&rf_before, &after);
}

static int group_setup(void **state)
{
    (void)state;
    rf_sched = fx_schedule(500);
    rf_invariants_run(&rf_before);
    return 0;
}

int main(void)
{
    fx_init("refund test concert");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refund_paid),
        cmocka_unit_test(test_refund_never_paid),
        cmocka_unit_test(test_refund_forbidden_first),
        cmocka_unit_test(test_refund_deadline),
        cmocka_unit_test(test_refund_bad_requests),
        cmocka_unit_test(test_twenty_concurrent_refunds),
        cmocka_unit_test(test_money_rule_and_invariants),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, NULL);
    fx_cleanup();
    return failed;
}
