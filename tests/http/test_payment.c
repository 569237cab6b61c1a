/* test_payment.c: paying held reservations and the payment history (API.md 14-15) through
 * nginx: the 201 and everything it writes, the error order, balance too low, a run-out hold
 * among two, idempotent replays with the spent token, and 20 concurrent payments of one
 * reservation. The expiry race and the failed history write have their own programs
 * (test_payment_race, test_payment_outbox), since each needs its own configuration. */
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
#include "payment_fixture.h"

#define RICH 1000000LL

static long long fx_sched; /* 500 seats; each test takes fresh ones */
static int fx_next_seat = 1;

static int new_seat(void)
{
    return fx_next_seat++;
}

static void make_user(struct fx_user *u, long long balance)
{
    assert_int_equal(fx_user_new(u, balance), 1);
}

/* Holds a fresh seat for u; its reservation id goes to rid, its seat number is returned. */
static int hold_new(const struct fx_user *u, char *rid)
{
    int seat = new_seat();
    long st = fx_hold(u, fx_sched, seat, rid, NULL);
    if (st != 201)
        print_error("hold of seat %d: %ld\n", seat, st);
    assert_int_equal(st, 201);
    return seat;
}

/* A random, well-formed id that names nothing. */
static void unknown_id(char *buf)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_v7(&u, cr_time_now_ms()), CR_OK);
    cr_uuid_format(&u, buf);
}

static long token_state(const struct fx_user *u, struct cr_test_res *r)
{
    const char *h[] = {u->auth, NULL};
    return cr_test_req(r, "GET", "/api/v1/queue/tokens/current", NULL, h);
}

static void assert_token_active(const struct fx_user *u)
{
    struct cr_test_res r;
    assert_int_equal(token_state(u, &r), 200);
    assert_string_equal(cr_test_str(&r, "status"), "ACTIVE");
    cr_test_res_free(&r);
}

static void assert_token_spent(const struct fx_user *u)
{
    struct cr_test_res r;
    token_state(u, &r);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
}

/* Checks the contract's 201 body. */
static void assert_payment_body(const struct cr_test_res *r, const struct fx_user *u,
                                const char *const *rids, int n, long long amount,
                                long long balance)
{
    json_object *ids, *v;
    struct cr_uuid id;
    int64_t ms;
    if (r->status != 201)
        print_error("payment: %ld %s\n", r->status, r->body);
    assert_int_equal(r->status, 201);
    assert_non_null(r->json);
    assert_int_equal(json_object_object_length(r->json), 7);
    assert_int_equal(cr_uuid_parse(cr_test_str(r, "paymentId"), &id), CR_OK);
    assert_int_equal(strlen(cr_test_str(r, "paymentId")), 36);
    assert_string_equal(cr_test_str(r, "userId"), u->id);
    assert_true(json_object_object_get_ex(r->json, "reservationIds", &ids));
    assert_int_equal(json_object_array_length(ids), n);
    for (int i = 0; i < n; i++)
        assert_string_equal(json_object_get_string(json_object_array_get_idx(ids, (size_t)i)),
                            rids[i]);
    assert_int_equal(cr_test_int(r, "amount"), amount);
    assert_int_equal(cr_test_int(r, "balance"), balance);
    assert_string_equal(cr_test_str(r, "status"), "PAID");
    assert_true(json_object_object_get_ex(r->json, "paidAt", &v));
    assert_int_equal(cr_time_parse(json_object_get_string(v), &ms), CR_OK);
    assert_true(ms > cr_time_now_ms() - 60000 && ms <= cr_time_now_ms() + 1000);
}

/* Nothing of a payment was written for u, whose balance is still balance. */
static void assert_nothing_paid(const struct fx_user *u, long long balance)
{
    assert_int_equal(fx_balance(u->id), balance);
    assert_int_equal(fx_payments(u->id), 0);
    assert_int_equal(fx_payment_entries(u->id), 0);
    assert_int_equal(fx_history_rows(u->id), 0);
}

/* --- the payment and what it writes -------------------------------------------------- */

static void test_pay_two_reservations(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], r2[37], st[16], pid[37], paid_at[32];
    make_user(&u, RICH);
    int s1 = hold_new(&u, r1), s2 = hold_new(&u, r2);
    long long amount = 1000LL * (s1 + s2);
    const char *rids[] = {r1, r2};

    fx_pay(&r, &u, rids, 2, NULL);
    assert_payment_body(&r, &u, rids, 2, amount, RICH - amount);
    snprintf(pid, sizeof(pid), "%s", cr_test_str(&r, "paymentId"));
    snprintf(paid_at, sizeof(paid_at), "%s", cr_test_str(&r, "paidAt"));
    cr_test_res_free(&r);

    /* The database: one debit, one payment row, one PAYMENT entry, both seats SOLD and both
     * reservations PAID by that payment, the outbox row DONE and one history row. */
    assert_int_equal(fx_balance(u.id), RICH - amount);
    assert_int_equal(fx_payments(u.id), 1);
    assert_int_equal(fx_payment_entries(u.id), 1);
    assert_int_equal(fx_history_rows_reach(u.id, 1), 1);
    struct cr_uuid pu;
    assert_int_equal(cr_uuid_parse(pid, &pu), CR_OK);
    struct cr_db_val pp[] = {CR_DB_UUID(&pu)};
    long long payment_id = cr_test_db_int("SELECT id FROM payments WHERE uuid = ?", pp, 1);
    assert_int_equal(cr_test_db_int("SELECT amount FROM payments WHERE uuid = ?", pp, 1), amount);
    struct cr_db_val pe[] = {CR_DB_I(payment_id)};
    assert_int_equal(cr_test_db_int("SELECT amount FROM balance_entries WHERE payment_id = ?"
                               " AND type = 'PAYMENT'",
                               pe, 1),
                     -amount);
    assert_int_equal(cr_test_db_int("SELECT balance_after FROM balance_entries WHERE payment_id = ?",
                               pe, 1),
                     RICH - amount);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE payment_id = ?"
                               " AND status = 'PAID'",
                               pe, 1),
                     2);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM outbox WHERE payment_id = ?"
                               " AND kind = 'PAYMENT_HISTORY' AND status = 'DONE'",
                               pe, 1),
                     1);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM payment_history WHERE payment_id = ?"
                               " AND amount = ?",
                               (struct cr_db_val[]){CR_DB_I(payment_id), CR_DB_I(amount)}, 2),
                     1);
    assert_string_equal(fx_res_status(r1, st), "PAID");
    assert_string_equal(fx_res_status(r2, st), "PAID");
    assert_string_equal(fx_seat_status(r1, st), "SOLD");
    assert_string_equal(fx_seat_status(r2, st), "SOLD");

    /* The history shows it once the write that follows the 201 is done (waited for above). */
    char path[128];
    json_object *list, *item, *v;
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", u.id);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "payments", &list));
    assert_int_equal(json_object_array_length(list), 1);
    item = json_object_array_get_idx(list, 0);
    assert_int_equal(json_object_object_length(item), 5);
    assert_true(json_object_object_get_ex(item, "refundedAmount", &v));
    assert_int_equal(json_object_get_int64(v), 0);
    assert_true(json_object_object_get_ex(item, "paymentId", &v));
    assert_string_equal(json_object_get_string(v), pid);
    assert_true(json_object_object_get_ex(item, "reservationIds", &v));
    assert_int_equal(json_object_array_length(v), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), r1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), r2);
    assert_true(json_object_object_get_ex(item, "amount", &v));
    assert_int_equal(json_object_get_int64(v), amount);
    assert_true(json_object_object_get_ex(item, "paidAt", &v));
    assert_string_equal(json_object_get_string(v), paid_at);
    cr_test_res_free(&r);

    /* The wallet's history shows the debit. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history?limit=1", u.id);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "entries", &list));
    item = json_object_array_get_idx(list, 0);
    assert_true(json_object_object_get_ex(item, "type", &v));
    assert_string_equal(json_object_get_string(v), "PAYMENT");
    assert_true(json_object_object_get_ex(item, "amount", &v));
    assert_int_equal(json_object_get_int64(v), -amount);
    cr_test_res_free(&r);

    /* The token was used up: it passes no gate, and paying with it again is 401. */
    assert_token_spent(&u);
    fx_pay(&r, &u, rids, 2, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    fx_pay(&r, &u, rids, 2, "never-used-key");
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    /* The user's next token is a new one and works. */
    char old[300];
    snprintf(old, sizeof(old), "%s", u.token);
    assert_int_equal(fx_token(&u), 1);
    assert_string_not_equal(u.token, old);
    assert_int_equal(fx_payments(u.id), 1);
}

/* --- idempotency ----------------------------------------------------------------------- */

static void test_idempotent_replay_with_spent_token(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], r2[37], first[1024];
    make_user(&u, RICH);
    int s1 = hold_new(&u, r1), s2 = hold_new(&u, r2);
    long long amount = 1000LL * (s1 + s2);
    const char *rids[] = {r1, r2}, *reversed[] = {r2, r1}, *only1[] = {r1};

    fx_pay(&r, &u, rids, 2, "pay-key-1");
    assert_payment_body(&r, &u, rids, 2, amount, RICH - amount);
    snprintf(first, sizeof(first), "%s", r.body);
    cr_test_res_free(&r);
    assert_token_spent(&u);

    /* The client lost the answer: the same key with the spent token, even with the ids in
     * another order (the same request), gets the recorded response byte for byte. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx_pay(&r, &u, i ? reversed : rids, 2, "pay-key-1"), 201);
        assert_string_equal(r.body, first);
        cr_test_res_free(&r);
    }
    /* So does any other token of the user, which stays unspent. */
    assert_int_equal(fx_token(&u), 1);
    assert_int_equal(fx_pay(&r, &u, rids, 2, "pay-key-1"), 201);
    assert_string_equal(r.body, first);
    cr_test_res_free(&r);
    assert_token_active(&u);

    /* The key for another request: 409 (with the spent token it is 401, see below). */
    fx_pay(&r, &u, only1, 1, "pay-key-1");
    cr_test_assert_error(&r, 409, "IDEMPOTENCY_KEY_REUSED");
    cr_test_res_free(&r);
    assert_int_equal(fx_payments(u.id), 1);
    assert_int_equal(fx_payment_entries(u.id), 1);
    assert_int_equal(fx_balance(u.id), RICH - amount);

    /* Another user's use of the same key is unrelated. */
    char rv[37];
    struct fx_user w;
    make_user(&w, RICH);
    int sv = hold_new(&w, rv);
    const char *wr[] = {rv};
    fx_pay(&r, &w, wr, 1, "pay-key-1");
    assert_payment_body(&r, &w, wr, 1, 1000LL * sv, RICH - 1000LL * sv);
    cr_test_res_free(&r);
}

static void test_spent_token_other_request_is_401(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], r2[37];
    make_user(&u, RICH);
    hold_new(&u, r1);
    hold_new(&u, r2);
    const char *p1[] = {r1}, *p2[] = {r2};
    assert_int_equal(fx_pay(&r, &u, p1, 1, "k-a"), 201);
    cr_test_res_free(&r);
    /* The spent token with the same key but another request, with another key, with no key,
     * or with a bad body: never a payment, always 401, and r2 stays held. */
    fx_pay(&r, &u, p2, 1, "k-a");
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    fx_pay(&r, &u, p2, 1, "k-b");
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    fx_pay(&r, &u, p2, 1, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    fx_pay_raw(&r, u.auth, "{}", NULL);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    char st[16];
    assert_string_equal(fx_res_status(r2, st), "HELD");
    assert_int_equal(fx_payments(u.id), 1);
}

/* --- bad requests ---------------------------------------------------------------------- */

static void test_bad_requests(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], body[512], u1[37], u2[37], u3[37], u4[37], u5[37], st[16];
    make_user(&u, RICH);
    hold_new(&u, r1);
    unknown_id(u1);
    unknown_id(u2);
    unknown_id(u3);
    unknown_id(u4);
    unknown_id(u5);

    const char *bad[] = {
        "{}",
        "{\"reservationIds\":[]}",
        "{\"reservationIds\":null}",
        "{\"reservationIds\":\"x\"}",
        "{\"reservationIds\":[1]}",
        "{\"reservationIds\":[\"not-a-uuid\"]}",
        "{\"reservationIds\":[\"\"]}",
        "[\"x\"]",
        "{\"reservationIds\":[",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fx_pay_raw(&r, u.auth, bad[i], NULL);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* No body at all. */
    const char *h[] = {u.auth, NULL};
    cr_test_req(&r, "POST", "/api/v1/payments", NULL, h);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* Five ids, and one id twice. */
    snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"]}", r1,
             u1, u2, u3, u4);
    fx_pay_raw(&r, u.auth, body, NULL);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    const char *twice[] = {r1, r1};
    fx_pay(&r, &u, twice, 2, NULL);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* A malformed Idempotency-Key. */
    const char *one[] = {r1};
    fx_pay(&r, &u, one, 1, "bad*key");
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* Another content type. */
    const char *text[] = {u.auth, "Content-Type: text/plain", NULL};
    snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\"]}", r1);
    cr_test_req(&r, "POST", "/api/v1/payments", body, text);
    cr_test_assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    cr_test_res_free(&r);
    /* Tokens: none, a forged one, another scheme. */
    fx_pay_raw(&r, NULL, body, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_MISSING");
    cr_test_res_free(&r);
    fx_pay_raw(&r, "Authorization: Bearer forged-token", body, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    fx_pay_raw(&r, "Authorization: Basic dXNlcjpwdw==", body, NULL);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    /* Wrong method. */
    cr_test_req(&r, "GET", "/api/v1/payments", NULL, h);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    char *allow = cr_test_header(&r, "Allow");
    assert_non_null(allow);
    assert_string_equal(allow, "POST");
    free(allow);
    cr_test_res_free(&r);

    /* None of it changed anything. */
    assert_nothing_paid(&u, RICH);
    assert_string_equal(fx_res_status(r1, st), "HELD");
    assert_token_active(&u);
}

/* --- the error order: 404, 403, 409, 410 ------------------------------------------------ */

static void test_error_order(void **state)
{
    struct fx_user a, b;
    struct cr_test_res r;
    char ra1[37], ra2[37], ra3[37], rb1[37], unk[37], st[16], path[128];
    make_user(&a, RICH);
    make_user(&b, RICH);
    int s1 = hold_new(&a, ra1);
    hold_new(&a, ra2);
    hold_new(&b, rb1);
    unknown_id(unk);

    struct {
        const char *ids[2];
        int n;
        long status;
        const char *code;
    } cases[] = {
        {{unk}, 1, 404, "NOT_FOUND"},
        {{rb1}, 1, 403, "FORBIDDEN"},
        {{ra1, unk}, 2, 404, "NOT_FOUND"},
        {{rb1, unk}, 2, 404, "NOT_FOUND"},
        {{ra1, rb1}, 2, 403, "FORBIDDEN"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_pay(&r, &a, cases[i].ids, cases[i].n, NULL);
        cr_test_assert_error(&r, cases[i].status, cases[i].code);
        cr_test_res_free(&r);
    }
    assert_nothing_paid(&a, RICH);
    assert_string_equal(fx_res_status(ra1, st), "HELD");
    assert_string_equal(fx_res_status(rb1, st), "HELD");
    assert_token_active(&a);

    const char *p1[] = {ra1};
    assert_int_equal(fx_pay(&r, &a, p1, 1, NULL), 201);
    cr_test_res_free(&r);
    assert_int_equal(fx_token(&a), 1);
    fx_pay(&r, &a, p1, 1, NULL);
    cr_test_assert_error(&r, 409, "RESERVATION_ALREADY_PAID");
    cr_test_res_free(&r);
    const char *paid_other[] = {ra1, rb1};
    fx_pay(&r, &a, paid_other, 2, NULL);
    cr_test_assert_error(&r, 403, "FORBIDDEN");
    cr_test_res_free(&r);

    /* A cancelled hold is gone for good: 410, like one that ran out. */
    const char *h[] = {a.auth, NULL};
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", ra2);
    assert_int_equal(cr_test_req(&r, "DELETE", path, NULL, h), 204);
    cr_test_res_free(&r);
    const char *p2[] = {ra2};
    fx_pay(&r, &a, p2, 1, NULL);
    cr_test_assert_error(&r, 410, "RESERVATION_EXPIRED");
    cr_test_res_free(&r);
    assert_string_equal(fx_res_status(ra2, st), "CANCELLED");

    /* Already paid beats run out. */
    hold_new(&a, ra3);
    struct cr_uuid u3;
    assert_int_equal(cr_uuid_parse(ra3, &u3), CR_OK);
    long long past = cr_time_now_ms() - 1000;
    struct cr_db_val pr[] = {CR_DB_T(past), CR_DB_UUID(&u3)};
    assert_int_equal(cr_db_exec("UPDATE reservations SET expires_at = ? WHERE uuid = ?", pr, 2,
                                NULL, NULL),
                     CR_OK);
    const char *paid_run_out[] = {ra3, ra1};
    fx_pay(&r, &a, paid_run_out, 2, NULL);
    cr_test_assert_error(&r, 409, "RESERVATION_ALREADY_PAID");
    cr_test_res_free(&r);

    assert_int_equal(fx_balance(a.id), RICH - 1000LL * s1);
    assert_int_equal(fx_payments(a.id), 1);
    assert_int_equal(fx_balance(b.id), RICH);
    assert_string_equal(fx_res_status(rb1, st), "HELD");
    assert_token_active(&a);
}

/* --- balance too low -------------------------------------------------------------------- */

static void test_insufficient_balance(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], st[16], path[128];
    make_user(&u, 0);
    int s = hold_new(&u, r1);
    long long price = 1000LL * s;
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", u.id);
    char body[64];
    snprintf(body, sizeof(body), "{\"amount\":%lld}", price - 1);
    assert_int_equal(cr_test_req(&r, "POST", path, body, NULL), 200);
    cr_test_res_free(&r);

    const char *p[] = {r1};
    fx_pay(&r, &u, p, 1, "low-1");
    cr_test_assert_error(&r, 422, "INSUFFICIENT_BALANCE");
    cr_test_res_free(&r);
    /* Nothing changed: money, reservation, seat, and the token is still active. */
    assert_nothing_paid(&u, price - 1);
    assert_string_equal(fx_res_status(r1, st), "HELD");
    assert_string_equal(fx_seat_status(r1, st), "HELD");
    assert_token_active(&u);
    /* The 4xx is recorded under its key. */
    fx_pay(&r, &u, p, 1, "low-1");
    cr_test_assert_error(&r, 422, "INSUFFICIENT_BALANCE");
    cr_test_res_free(&r);

    /* Exactly enough is enough, down to zero. */
    assert_int_equal(cr_test_req(&r, "POST", path, "{\"amount\":1}", NULL), 200);
    cr_test_res_free(&r);
    fx_pay(&r, &u, p, 1, "low-2");
    assert_payment_body(&r, &u, p, 1, price, 0);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(u.id), 0);
}

/* --- one of two holds ran out ---------------------------------------------------------- */

static void test_one_of_two_expired(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], r2[37], st[16], path[128];
    make_user(&u, RICH);
    int s1 = hold_new(&u, r1);
    hold_new(&u, r2);
    /* r2's time runs out (written directly: the hold lasts 5 minutes here). */
    struct cr_uuid u2;
    assert_int_equal(cr_uuid_parse(r2, &u2), CR_OK);
    long long past = cr_time_now_ms() - 1000;
    struct cr_db_val pr[] = {CR_DB_T(past), CR_DB_UUID(&u2)};
    assert_int_equal(cr_db_exec("UPDATE reservations SET expires_at = ? WHERE uuid = ?", pr, 2,
                                NULL, NULL),
                     CR_OK);
    struct cr_db_val ps[] = {CR_DB_T(past), CR_DB_I(fx_reservation_db_id(r2))};
    assert_int_equal(cr_db_exec("UPDATE seats SET hold_expires_at = ? WHERE reservation_id = ?",
                                ps, 2, NULL, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();

    const char *both[] = {r1, r2};
    fx_pay(&r, &u, both, 2, NULL);
    cr_test_assert_error(&r, 410, "RESERVATION_EXPIRED");
    cr_test_res_free(&r);
    /* Nothing debited, r1 still held, r2 released, the token still active. */
    assert_nothing_paid(&u, RICH);
    assert_string_equal(fx_res_status(r1, st), "HELD");
    assert_string_equal(fx_seat_status(r1, st), "HELD");
    assert_string_equal(fx_res_status(r2, st), "EXPIRED");
    struct cr_db_val pi[] = {CR_DB_I(fx_reservation_db_id(r2))};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE reservation_id = ?", pi, 1), 0);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats AS t JOIN reservations AS r"
                               " ON r.seat_id = t.id WHERE r.id = ? AND t.status = 'AVAILABLE'",
                               pi, 1),
                     1);
    assert_token_active(&u);
    const char *h[] = {u.auth, NULL};
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", r2);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, h), 200);
    assert_string_equal(cr_test_str(&r, "status"), "EXPIRED");
    cr_test_res_free(&r);

    /* The live one can still be paid. */
    const char *one[] = {r1};
    fx_pay(&r, &u, one, 1, NULL);
    assert_payment_body(&r, &u, one, 1, 1000LL * s1, RICH - 1000LL * s1);
    cr_test_res_free(&r);
}

/* --- 20 concurrent payments of one reservation ----------------------------------------- */

#define RACERS 20

struct race {
    struct fx_user u;
    char rid[37];
    long status[RACERS];
    char code[RACERS][40];
};

static void race_one(int i, void *ctx)
{
    struct race *c = ctx;
    struct cr_test_res r;
    char key[32];
    const char *p[] = {c->rid};
    snprintf(key, sizeof(key), "race-%d", i);
    c->status[i] = fx_pay(&r, &c->u, p, 1, i % 2 ? key : NULL);
    snprintf(c->code[i], sizeof(c->code[i]), "%s", cr_test_error_code(&r));
    cr_test_res_free(&r);
}

static void test_twenty_concurrent_payments(void **state)
{
    struct race *c = calloc(1, sizeof(*c));
    char st[16];
    make_user(&c->u, RICH);
    int s = hold_new(&c->u, c->rid);
    cr_test_parallel(RACERS, RACERS, race_one, c);

    int won = 0, paid = 0, spent = 0;
    for (int i = 0; i < RACERS; i++) {
        if (c->status[i] == 201)
            won++;
        else if (c->status[i] == 409 && strcmp(c->code[i], "RESERVATION_ALREADY_PAID") == 0)
            paid++;
        else if (c->status[i] == 401 && strcmp(c->code[i], "TOKEN_INVALID") == 0)
            spent++;
        else
            print_error("payment %d: %ld %s\n", i, c->status[i], c->code[i]);
    }
    print_message("20 concurrent payments: %d x 201, %d x 409, %d x 401\n", won, paid, spent);
    assert_int_equal(won, 1);
    assert_int_equal(won + paid + spent, RACERS);
    assert_int_equal(fx_balance(c->u.id), RICH - 1000LL * s);
    assert_int_equal(fx_payments(c->u.id), 1);
    assert_int_equal(fx_payment_entries(c->u.id), 1);
    assert_int_equal(fx_history_rows_reach(c->u.id, 1), 1);
    assert_string_equal(fx_res_status(c->rid, st), "PAID");
    assert_string_equal(fx_seat_status(c->rid, st), "SOLD");
    assert_token_spent(&c->u);
    free(c);
}

/* --- the history read ------------------------------------------------------------------- */

static void test_history_list(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char path[128], unk[37], r1[37], r2[37], first[37], second[37];
    json_object *list, *v;

    assert_int_equal(cr_test_req(&r, "GET", "/api/v1/users/not-a-uuid/payments", NULL, NULL),
                     400);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    unknown_id(unk);
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", unk);
    cr_test_req(&r, "GET", path, NULL, NULL);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);

    make_user(&u, RICH);
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", u.id);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_string_equal(r.body, "{\"payments\":[]}");
    cr_test_res_free(&r);
    cr_test_req(&r, "POST", path, "{}", NULL);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);

    hold_new(&u, r1);
    hold_new(&u, r2);
    const char *p1[] = {r1}, *p2[] = {r2};
    assert_int_equal(fx_pay(&r, &u, p1, 1, NULL), 201);
    snprintf(first, sizeof(first), "%s", cr_test_str(&r, "paymentId"));
    cr_test_res_free(&r);
    assert_int_equal(fx_token(&u), 1);
    assert_int_equal(fx_pay(&r, &u, p2, 1, NULL), 201);
    snprintf(second, sizeof(second), "%s", cr_test_str(&r, "paymentId"));
    cr_test_res_free(&r);

    /* No token needed, newest first. */
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "payments", &list));
    assert_int_equal(json_object_array_length(list), 2);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(list, 0), "paymentId", &v));
    assert_string_equal(json_object_get_string(v), second);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(list, 1), "paymentId", &v));
    assert_string_equal(json_object_get_string(v), first);
    cr_test_res_free(&r);
}

static int teardown(void **state)
{
    fx_cleanup();
    return 0;
}

int main(void)
{
    fx_init("payment test concert");
    fx_sched = fx_schedule(500);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pay_two_reservations),
        cmocka_unit_test(test_idempotent_replay_with_spent_token),
        cmocka_unit_test(test_spent_token_other_request_is_401),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_error_order),
        cmocka_unit_test(test_insufficient_balance),
        cmocka_unit_test(test_one_of_two_expired),
        cmocka_unit_test(test_twenty_concurrent_payments),
        cmocka_unit_test(test_history_list),
    };
    return cmocka_run_group_tests_name("http_payment", tests, NULL, teardown);
}
