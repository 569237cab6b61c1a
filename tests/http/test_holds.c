/* test_holds.c: seat holds, reads, cancels and the expiry job (API.md 11-13) through nginx,
 * with a 2-second hold and room for every user in the active set (test_holds.conf). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cr_arena.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_test.h"
#include "cr_time.h"
#include "cr_uuid.h"

#define HOLD_MS 2000 /* RESERVATION_HOLD_SECONDS=2 in test_holds.conf */
#define MAX_SCHEDULES 16
#define JOB_SEATS 1000 /* run-out holds written directly for the expiry job test */

/* Rows this program adds to the shared database (removed at the end): one concert far in
 * the future and its schedules, each with its own seats, so no demo row is disturbed. */
static long long fx_concert;
static long long fx_schedules[MAX_SCHEDULES];
static int fx_nschedules;

/* A user with an active queue token. */
struct actor {
    char user[37];
    char auth[400];
    long status; /* of the last step of making it, for checks outside the threads */
};

/* --- helpers ------------------------------------------------------------------------- */

static long long user_id_of(const char *user)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(user, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT id FROM users WHERE uuid = ?", p, 1);
}

static long long reservation_id_of(const char *rid)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(rid, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT id FROM reservations WHERE uuid = ?", p, 1);
}

/* The status column of reservation rid, in buf. */
static const char *reservation_status(const char *rid, char *buf, size_t n)
{
    struct cr_uuid u;
    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    assert_int_equal(cr_uuid_parse(rid, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    assert_int_equal(
        cr_db_query(a, "SELECT status FROM reservations WHERE uuid = ?", p, 1, &rows), CR_OK);
    assert_int_equal(rows.nrows, 1);
    snprintf(buf, n, "%s", CR_DB_CELL(&rows, 0, 0)->s);
    cr_arena_free(a);
    return buf;
}

/* A seat's row: status (in buf), version, reservation_id (-1 for NULL). */
static void seat_row(long long schedule, int seat_no, char *status, size_t n, long long *version,
                     long long *reservation)
{
    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    struct cr_db_val p[] = {CR_DB_I(schedule), CR_DB_I(seat_no)};
    assert_int_equal(cr_db_query(a,
                                 "SELECT status, version, reservation_id FROM seats"
                                 " WHERE schedule_id = ? AND seat_no = ?",
                                 p, 2, &rows),
                     CR_OK);
    assert_int_equal(rows.nrows, 1);
    snprintf(status, n, "%s", CR_DB_CELL(&rows, 0, 0)->s);
    *version = CR_DB_CELL(&rows, 0, 1)->i;
    *reservation =
        CR_DB_CELL(&rows, 0, 2)->type == CR_DB_NULL ? -1 : CR_DB_CELL(&rows, 0, 2)->i;
    cr_arena_free(a);
}

/* A new schedule of the fixture concert with nseats seats priced 1000 x seat number. */
static long long new_schedule(int nseats)
{
    assert_true(fx_nschedules < MAX_SCHEDULES);
    long long id = cr_test_new_schedule(fx_concert, nseats);
    fx_schedules[fx_nschedules++] = id;
    return id;
}

/* Makes actor i: a new user and an active token. No cmocka asserts: it runs on threads. */
static void make_actor(int i, void *ctx)
{
    struct actor *a = &((struct actor *)ctx)[i];
    struct cr_test_res r;
    char body[128];
    a->status = cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL);
    snprintf(a->user, sizeof(a->user), "%s", cr_test_str(&r, "userId"));
    cr_test_res_free(&r);
    if (a->status != 201)
        return;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", a->user);
    a->status = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    snprintf(a->auth, sizeof(a->auth), "Authorization: Bearer %s", cr_test_str(&r, "token"));
    if (strcmp(cr_test_str(&r, "status"), "ACTIVE") != 0)
        a->status = -1;
    cr_test_res_free(&r);
}

static struct actor *make_actors(int n)
{
    struct actor *a = calloc((size_t)n, sizeof(*a));
    cr_test_parallel(16, n, make_actor, a);
    for (int i = 0; i < n; i++) {
        if (a[i].status != 201)
            print_error("actor %d: status %ld\n", i, a[i].status);
        assert_int_equal(a[i].status, 201);
    }
    return a;
}

static long hold(struct cr_test_res *r, const struct actor *a, long long schedule, int seat)
{
    char body[128];
    const char *h[] = {a->auth, NULL};
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":%d}", schedule, seat);
    return cr_test_req(r, "POST", "/api/v1/reservations", body, h);
}

static long on_reservation(struct cr_test_res *r, const char *method, const struct actor *a,
                           const char *rid)
{
    char path[128];
    const char *h[] = {a != NULL ? a->auth : NULL, NULL};
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    return cr_test_req(r, method, path, NULL, a != NULL ? h : NULL);
}

/* Checks the contract's reservation body and returns its reservationId in rid. */
static void assert_reservation(struct cr_test_res *r, const struct actor *a, long long schedule,
                               int seat, const char *status, char *rid)
{
    json_object *v;
    assert_non_null(r->json);
    assert_int_equal(json_object_object_length(r->json), 7);
    assert_int_equal(strlen(cr_test_str(r, "reservationId")), 36);
    assert_string_equal(cr_test_str(r, "userId"), a->user);
    assert_int_equal(cr_test_int(r, "scheduleId"), schedule);
    assert_int_equal(cr_test_int(r, "seatNo"), seat);
    assert_int_equal(cr_test_int(r, "price"), 1000LL * seat);
    assert_string_equal(cr_test_str(r, "status"), status);
    assert_true(json_object_object_get_ex(r->json, "expiresAt", &v));
    int64_t ms;
    assert_int_equal(cr_time_parse(json_object_get_string(v), &ms), CR_OK);
    if (rid != NULL)
        snprintf(rid, 37, "%s", cr_test_str(r, "reservationId"));
}

static long long expires_at(struct cr_test_res *r)
{
    int64_t ms = 0;
    assert_int_equal(cr_time_parse(cr_test_str(r, "expiresAt"), &ms), CR_OK);
    return ms;
}

/* --- the race for one seat ------------------------------------------------------------- */

#define RACERS 200

struct race {
    struct actor *actors;
    long long schedule;
    long status[RACERS];
    char code[RACERS][32];
    char rid[RACERS][37];
};

static void race_one(int i, void *ctx)
{
    struct race *c = ctx;
    struct cr_test_res r;
    c->status[i] = hold(&r, &c->actors[i], c->schedule, 7);
    snprintf(c->code[i], sizeof(c->code[i]), "%s", cr_test_error_code(&r));
    snprintf(c->rid[i], sizeof(c->rid[i]), "%s", cr_test_str(&r, "reservationId"));
    cr_test_res_free(&r);
}

/* 200 users from 40 clients at once: one 201, 199 x 409, one HELD row, version bumped once. */
static void test_race_for_one_seat(void **state)
{
    struct race *c = calloc(1, sizeof(*c));
    c->actors = make_actors(RACERS);
    c->schedule = new_schedule(50);
    int64_t t0 = cr_time_mono_ms();
    cr_test_parallel(40, RACERS, race_one, c);
    int64_t took = cr_time_mono_ms() - t0;

    int won = 0, lost = 0, winner = -1;
    for (int i = 0; i < RACERS; i++) {
        if (c->status[i] == 201) {
            won++;
            winner = i;
        } else if (c->status[i] == 409 && strcmp(c->code[i], "SEAT_UNAVAILABLE") == 0) {
            lost++;
        } else {
            print_error("racer %d: %ld %s\n", i, c->status[i], c->code[i]);
        }
    }
    if (won != 1)
        print_error("%d winners in %lld ms (the hold lasts %d ms)\n", won, (long long)took,
                    HOLD_MS);
    assert_int_equal(won, 1);
    assert_int_equal(lost, RACERS - 1);

    /* One reservation row for the seat (the losers left nothing behind), HELD, and the seat
     * points at it with its version bumped exactly once. */
    struct cr_db_val p[] = {CR_DB_I(c->schedule)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE schedule_id = ?", p, 1), 1);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations"
                            " WHERE schedule_id = ? AND seat_no = 7 AND status = 'HELD'",
                            p, 1),
                     1);
    char st[16];
    long long version, res;
    seat_row(c->schedule, 7, st, sizeof(st), &version, &res);
    assert_string_equal(st, "HELD");
    assert_int_equal(version, 1);
    assert_int_equal(res, reservation_id_of(c->rid[winner]));
    struct cr_db_val ps[] = {CR_DB_I(c->schedule)};
    assert_int_equal(cr_test_db_int("SELECT holder_user_id FROM seats WHERE schedule_id = ? AND seat_no = 7",
                            ps, 1),
                     user_id_of(c->actors[winner].user));
    /* Every other seat is untouched. */
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats"
                            " WHERE schedule_id = ? AND version = 0 AND status = 'AVAILABLE'",
                            p, 1),
                     49);
    free(c->actors);
    free(c);
}

/* --- 50 users, 50 seats ---------------------------------------------------------------- */

#define FIFTY 50

struct fifty {
    struct actor *actors;
    long long schedule;
    int seat[FIFTY];  /* the seat won, 0 for none */
    int tries[FIFTY]; /* requests sent */
    long bad[FIFTY];  /* a status other than 201 / 409 SEAT_UNAVAILABLE */
};

/* Tries the seats in a random order of its own until one is won. */
static void fifty_one(int i, void *ctx)
{
    struct fifty *c = ctx;
    int order[FIFTY];
    unsigned int seed = (unsigned int)(i * 7919 + 17);
    for (int k = 0; k < FIFTY; k++)
        order[k] = k + 1;
    for (int k = FIFTY - 1; k > 0; k--) {
        int j = rand_r(&seed) % (k + 1), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < FIFTY && c->seat[i] == 0; k++) {
        struct cr_test_res r;
        long st = hold(&r, &c->actors[i], c->schedule, order[k]);
        c->tries[i]++;
        if (st == 201)
            c->seat[i] = order[k];
        else if (st != 409 || strcmp(cr_test_error_code(&r), "SEAT_UNAVAILABLE") != 0)
            c->bad[i] = st;
        cr_test_res_free(&r);
        if (c->bad[i] != 0)
            break;
    }
}

static void test_fifty_users_fifty_seats(void **state)
{
    struct fifty *c = calloc(1, sizeof(*c));
    c->actors = make_actors(FIFTY);
    c->schedule = new_schedule(FIFTY);
    int64_t t0 = cr_time_mono_ms();
    cr_test_parallel(FIFTY, FIFTY, fifty_one, c);
    int64_t took = cr_time_mono_ms() - t0;

    int taken[FIFTY + 1] = {0}, total = 0;
    for (int i = 0; i < FIFTY; i++) {
        if (c->seat[i] == 0 || c->bad[i] != 0)
            print_error("user %d: seat %d, status %ld\n", i, c->seat[i], c->bad[i]);
        assert_int_equal(c->bad[i], 0);
        assert_true(c->seat[i] >= 1 && c->seat[i] <= FIFTY);
        taken[c->seat[i]]++;
        total += c->tries[i];
    }
    for (int s = 1; s <= FIFTY; s++)
        assert_int_equal(taken[s], 1);
    print_message("50 users took 50 seats with %d requests in %lld ms\n", total, (long long)took);
    assert_true(took < HOLD_MS); /* else a run-out hold could have been taken over */

    struct cr_db_val p[] = {CR_DB_I(c->schedule)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE schedule_id = ?", p, 1),
                     FIFTY);
    assert_int_equal(cr_test_db_int("SELECT COUNT(DISTINCT seat_no) FROM reservations"
                            " WHERE schedule_id = ? AND status = 'HELD'",
                            p, 1),
                     FIFTY);
    assert_int_equal(cr_test_db_int("SELECT COUNT(DISTINCT user_id) FROM reservations"
                            " WHERE schedule_id = ? AND status = 'HELD'",
                            p, 1),
                     FIFTY);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats"
                            " WHERE schedule_id = ? AND status = 'HELD' AND version = 1",
                            p, 1),
                     FIFTY);
    /* Each seat points at the one reservation made for it. */
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats AS t JOIN reservations AS r"
                            " ON r.id = t.reservation_id AND r.seat_id = t.id"
                            " AND r.user_id = t.holder_user_id WHERE t.schedule_id = ?",
                            p, 1),
                     FIFTY);
    free(c->actors);
    free(c);
}

/* --- the hold limit -------------------------------------------------------------------- */

struct limit {
    struct actor *actor;
    long long schedule;
    long status[10];
    char code[10][32];
};

static void limit_one(int i, void *ctx)
{
    struct limit *c = ctx;
    struct cr_test_res r;
    c->status[i] = hold(&r, c->actor, c->schedule, i + 1);
    snprintf(c->code[i], sizeof(c->code[i]), "%s", cr_test_error_code(&r));
    cr_test_res_free(&r);
}

/* One user, 10 concurrent holds of 10 seats: exactly 4 held, 6 x 409 HOLD_LIMIT_REACHED. */
static void test_hold_limit_under_concurrency(void **state)
{
    struct limit c;
    memset(&c, 0, sizeof(c));
    c.actor = make_actors(1);
    c.schedule = new_schedule(50);
    cr_test_parallel(10, 10, limit_one, &c);
    int won = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        if (c.status[i] == 201)
            won++;
        else if (c.status[i] == 409 && strcmp(c.code[i], "HOLD_LIMIT_REACHED") == 0)
            limited++;
        else
            print_error("hold %d: %ld %s\n", i, c.status[i], c.code[i]);
    }
    assert_int_equal(won, 4);
    assert_int_equal(limited, 6);
    struct cr_db_val p[] = {CR_DB_I(user_id_of(c.actor->user))};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE user_id = ?", p, 1), 4);
    assert_int_equal(
        cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE user_id = ? AND status = 'HELD'", p, 1),
        4);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE holder_user_id = ?"
                            " AND status = 'HELD'",
                            p, 1),
                     4);
    /* A 5th seat, asked for alone, is refused too. */
    struct cr_test_res r;
    hold(&r, c.actor, c.schedule, 20);
    cr_test_assert_error(&r, 409, "HOLD_LIMIT_REACHED");
    cr_test_res_free(&r);
    free(c.actor);
}

/* --- one user's reservation: repeat, read, others, cancel ------------------------------ */

static void test_repeat_read_and_owner(void **state)
{
    struct actor *a = make_actors(2), *b = &a[1];
    long long sc = new_schedule(50);
    struct cr_test_res r;
    char rid[37];

    assert_int_equal(hold(&r, a, sc, 3), 201);
    assert_reservation(&r, a, sc, 3, "HELD", rid);
    long long until = expires_at(&r);
    long long now = cr_time_now_ms();
    assert_true(until > now + HOLD_MS - 1500 && until <= now + HOLD_MS + 500);
    cr_test_res_free(&r);

    /* The same user again: 200, the same reservation, not extended. */
    assert_int_equal(hold(&r, a, sc, 3), 200);
    assert_reservation(&r, a, sc, 3, "HELD", NULL);
    assert_string_equal(cr_test_str(&r, "reservationId"), rid);
    assert_int_equal(expires_at(&r), until);
    cr_test_res_free(&r);
    struct cr_db_val p[] = {CR_DB_I(sc)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE schedule_id = ?", p, 1), 1);
    assert_int_equal(cr_test_db_int("SELECT version FROM seats WHERE schedule_id = ? AND seat_no = 3", p,
                            1),
                     1);

    /* Another user: the seat is taken, the reservation is not theirs. */
    hold(&r, b, sc, 3);
    cr_test_assert_error(&r, 409, "SEAT_UNAVAILABLE");
    cr_test_res_free(&r);
    on_reservation(&r, "GET", b, rid);
    cr_test_assert_error(&r, 403, "FORBIDDEN");
    cr_test_res_free(&r);
    on_reservation(&r, "DELETE", b, rid);
    cr_test_assert_error(&r, 403, "FORBIDDEN");
    cr_test_res_free(&r);

    /* The owner reads it. */
    assert_int_equal(on_reservation(&r, "GET", a, rid), 200);
    assert_reservation(&r, a, sc, 3, "HELD", NULL);
    assert_string_equal(cr_test_str(&r, "reservationId"), rid);
    assert_int_equal(expires_at(&r), until);
    cr_test_res_free(&r);

    /* Unknown, malformed, no token. */
    on_reservation(&r, "GET", a, "01890a5d-ac96-774b-bcce-b302099a8057");
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    on_reservation(&r, "DELETE", a, "01890a5d-ac96-774b-bcce-b302099a8057");
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    on_reservation(&r, "GET", a, "not-a-uuid");
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    on_reservation(&r, "GET", NULL, rid);
    cr_test_assert_error(&r, 401, "TOKEN_MISSING");
    cr_test_res_free(&r);
    cr_test_req(&r, "POST", "/api/v1/reservations", "{\"scheduleId\":1,\"seatNo\":1}", NULL);
    cr_test_assert_error(&r, 401, "TOKEN_MISSING");
    cr_test_res_free(&r);
    free(a);
}

static void test_cancel(void **state)
{
    struct actor *a = make_actors(2), *b = &a[1];
    long long sc = new_schedule(50);
    struct cr_test_res r;
    char rid[37], st[16];
    long long version, res;

    assert_int_equal(hold(&r, a, sc, 4), 201);
    assert_reservation(&r, a, sc, 4, "HELD", rid);
    cr_test_res_free(&r);
    assert_int_equal(on_reservation(&r, "DELETE", a, rid), 204);
    assert_int_equal(r.len, 0);
    cr_test_res_free(&r);
    seat_row(sc, 4, st, sizeof(st), &version, &res);
    assert_string_equal(st, "AVAILABLE");
    assert_int_equal(version, 2);
    assert_int_equal(res, -1);
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "CANCELLED");
    assert_int_equal(on_reservation(&r, "GET", a, rid), 200);
    assert_reservation(&r, a, sc, 4, "CANCELLED", NULL);
    cr_test_res_free(&r);

    /* Again: 204, nothing changes. */
    assert_int_equal(on_reservation(&r, "DELETE", a, rid), 204);
    cr_test_res_free(&r);
    seat_row(sc, 4, st, sizeof(st), &version, &res);
    assert_string_equal(st, "AVAILABLE");
    assert_int_equal(version, 2);

    /* The seat is free for anyone; the cancelled hold does not count to the limit. */
    assert_int_equal(hold(&r, b, sc, 4), 201);
    cr_test_res_free(&r);
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "CANCELLED");

    /* A paid reservation cannot be cancelled (made PAID here as the payment would). */
    assert_int_equal(hold(&r, a, sc, 5), 201);
    assert_reservation(&r, a, sc, 5, "HELD", rid);
    cr_test_res_free(&r);
    struct cr_db_val p[] = {CR_DB_I(reservation_id_of(rid))};
    assert_int_equal(cr_db_exec("UPDATE reservations SET status = 'PAID' WHERE id = ?", p, 1,
                                NULL, NULL),
                     CR_OK);
    assert_int_equal(cr_db_exec("UPDATE seats SET status = 'SOLD' WHERE reservation_id = ?", p,
                                1, NULL, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();
    on_reservation(&r, "DELETE", a, rid);
    cr_test_assert_error(&r, 409, "RESERVATION_ALREADY_PAID");
    cr_test_res_free(&r);
    assert_int_equal(on_reservation(&r, "GET", a, rid), 200);
    assert_reservation(&r, a, sc, 5, "PAID", NULL);
    cr_test_res_free(&r);
    seat_row(sc, 5, st, sizeof(st), &version, &res);
    assert_string_equal(st, "SOLD");
    hold(&r, b, sc, 5);
    cr_test_assert_error(&r, 409, "SEAT_UNAVAILABLE");
    cr_test_res_free(&r);
    free(a);
}

static void test_bad_input(void **state)
{
    struct actor *a = make_actors(1);
    long long sc = new_schedule(50);
    struct cr_test_res r;
    char body[160];
    const char *h[] = {a->auth, NULL};
    const char *bad[] = {
        "{\"scheduleId\":0,\"seatNo\":1}",      "{\"scheduleId\":\"%lld\",\"seatNo\":1}",
        "{\"scheduleId\":%lld.0,\"seatNo\":1}", "{\"scheduleId\":%lld,\"seatNo\":1e0}",
        "{\"scheduleId\":%lld,\"seatNo\":0}",   "{\"scheduleId\":%lld,\"seatNo\":-1}",
        "{\"scheduleId\":%lld,\"seatNo\":null}", "{\"scheduleId\":%lld,\"seatNo\":true}",
        "{\"scheduleId\":%lld}",                "{\"seatNo\":1}",
        "{}",                                   "[]",
        "{\"scheduleId\":%lld,\"seatNo\":1",    "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), bad[i], sc);
        cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
        if (r.status != 400)
            print_error("body %s\n", body);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* No body at all. */
    cr_test_req(&r, "POST", "/api/v1/reservations", NULL, h);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);

    /* Past the last seat, an unknown schedule: 404. */
    hold(&r, a, sc, 51);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":4294967297}", sc);
    cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    hold(&r, a, 999999999, 1);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);

    /* Nothing was written by any of them. */
    struct cr_db_val p[] = {CR_DB_I(user_id_of(a->user))};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE user_id = ?", p, 1), 0);

    /* Wrong method, wrong content type. */
    cr_test_req(&r, "PUT", "/api/v1/reservations", NULL, h);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);
    const char *text[] = {a->auth, "Content-Type: text/plain", NULL};
    cr_test_req(&r, "POST", "/api/v1/reservations", "{\"scheduleId\":1,\"seatNo\":1}", text);
    cr_test_assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    cr_test_res_free(&r);
    free(a);
}

/* --- expiry ---------------------------------------------------------------------------- */

/* After the 2-second hold ran out: the seat is bookable at once, the old reservation reads
 * EXPIRED, cancelling a run-out hold applies the expiry. */
static void test_lazy_expiry(void **state)
{
    struct actor *a = make_actors(2), *b = &a[1];
    long long sc = new_schedule(50);
    struct cr_test_res r;
    char rid[37], rid2[37], st[16];
    long long version, res;

    assert_int_equal(hold(&r, a, sc, 8), 201);
    assert_reservation(&r, a, sc, 8, "HELD", rid);
    cr_test_res_free(&r);
    assert_int_equal(hold(&r, a, sc, 9), 201);
    assert_reservation(&r, a, sc, 9, "HELD", rid2);
    cr_test_res_free(&r);
    hold(&r, b, sc, 8);
    cr_test_assert_error(&r, 409, "SEAT_UNAVAILABLE");
    cr_test_res_free(&r);

    sleep(3);
    /* Reads EXPIRED before anything has written it. */
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "HELD");
    assert_int_equal(on_reservation(&r, "GET", a, rid), 200);
    assert_reservation(&r, a, sc, 8, "EXPIRED", NULL);
    cr_test_res_free(&r);

    /* Another user takes the seat at once; the old reservation is expired with it. */
    assert_int_equal(hold(&r, b, sc, 8), 201);
    assert_reservation(&r, b, sc, 8, "HELD", NULL);
    long long b_res = reservation_id_of(cr_test_str(&r, "reservationId"));
    cr_test_res_free(&r);
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "EXPIRED");
    seat_row(sc, 8, st, sizeof(st), &version, &res);
    assert_string_equal(st, "HELD");
    assert_int_equal(version, 2);
    assert_int_equal(res, b_res);

    /* Cancelling the expired one changes nothing. */
    assert_int_equal(on_reservation(&r, "DELETE", a, rid), 204);
    cr_test_res_free(&r);
    seat_row(sc, 8, st, sizeof(st), &version, &res);
    assert_string_equal(st, "HELD");
    assert_int_equal(version, 2);
    assert_int_equal(res, b_res);
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "EXPIRED");

    /* Cancelling a run-out hold nobody took over applies the expiry. */
    assert_int_equal(on_reservation(&r, "DELETE", a, rid2), 204);
    cr_test_res_free(&r);
    assert_string_equal(reservation_status(rid2, st, sizeof(st)), "EXPIRED");
    seat_row(sc, 9, st, sizeof(st), &version, &res);
    assert_string_equal(st, "AVAILABLE");
    assert_int_equal(version, 2);
    assert_int_equal(res, -1);

    /* The user's run-out holds do not count to the limit. */
    for (int s = 10; s < 14; s++) {
        assert_int_equal(hold(&r, a, sc, s), 201);
        cr_test_res_free(&r);
    }
    free(a);
}

/* Runs two copies of concert-expire at once and returns the sum of their holdsReleased. */
static long long run_expire_twice(void)
{
    char cmd[1200], line[2][512];
    const char *bin = getenv("CR_BIN_DIR");
    FILE *f[2];
    long long sum = 0;
    assert_non_null(bin);
    snprintf(cmd, sizeof(cmd), "'%s/concert-expire'", bin);
    for (int i = 0; i < 2; i++)
        assert_non_null(f[i] = popen(cmd, "r"));
    for (int i = 0; i < 2; i++) {
        line[i][0] = '\0';
        if (fgets(line[i], sizeof(line[i]), f[i]) == NULL)
            line[i][0] = '\0';
        int status = pclose(f[i]);
        print_message("concert-expire: %s", line[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        json_object *o = json_tokener_parse(line[i]), *v;
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "holdsReleased", &v));
        assert_true(json_object_is_type(v, json_type_int));
        sum += json_object_get_int64(v);
        assert_true(json_object_object_get_ex(o, "tokensExpired", &v));
        json_object_put(o);
    }
    return sum;
}

/* The job: run twice at once, it releases each run-out hold exactly once (1000 written
 * directly, so that it takes more than one batch, plus holds made through the API). */
static void test_expire_job_twice_at_once(void **state)
{
    struct actor *a = make_actors(1);
    long long sc = new_schedule(50), big = new_schedule(JOB_SEATS);
    long long uid = user_id_of(a->user), now = cr_time_now_ms();
    struct cr_test_res r;
    char rid[37], st[16];
    long long version, res;

    assert_int_equal(hold(&r, a, sc, 1), 201);
    assert_reservation(&r, a, sc, 1, "HELD", rid);
    cr_test_res_free(&r);
    assert_int_equal(hold(&r, a, sc, 2), 201);
    cr_test_res_free(&r);

    /* 1000 holds that ran out a minute ago: reservations and seats as a hold writes them. */
    struct cr_db_val pr[] = {CR_DB_I(uid), CR_DB_T(now - 60000), CR_DB_I(big)};
    assert_int_equal(
        cr_db_exec("INSERT INTO reservations"
                   " (uuid, user_id, seat_id, schedule_id, seat_no, price, status, expires_at)"
                   " SELECT UNHEX(REPLACE(UUID(), '-', '')), ?, id, schedule_id, seat_no, price,"
                   " 'HELD', ? FROM seats WHERE schedule_id = ?",
                   pr, 3, NULL, NULL),
        CR_OK);
    struct cr_db_val ps[] = {CR_DB_I(big)};
    assert_int_equal(cr_db_exec("UPDATE seats AS t JOIN reservations AS r ON r.seat_id = t.id"
                                " SET t.status = 'HELD', t.holder_user_id = r.user_id,"
                                " t.reservation_id = r.id, t.hold_expires_at = r.expires_at"
                                " WHERE t.schedule_id = ?",
                                ps, 1, NULL, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();

    sleep(3);
    /* Every run-out hold in the shared database, ours and any another program left. */
    long long t0 = cr_time_now_ms();
    struct cr_db_val pt[] = {CR_DB_T(t0)};
    long long expired = cr_test_db_int("SELECT COUNT(*) FROM reservations"
                               " WHERE status = 'HELD' AND expires_at <= ?",
                               pt, 1);
    assert_true(expired >= JOB_SEATS + 2);

    long long released = run_expire_twice();
    print_message("%lld run-out holds, released %lld\n", expired, released);
    assert_int_equal(released, expired);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations"
                            " WHERE status = 'HELD' AND expires_at <= ?",
                            pt, 1),
                     0);

    /* Each seat was released once: version 0 -> 1 for the direct ones (written without a
     * bump), 1 -> 2 for those held through the API. */
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations"
                            " WHERE schedule_id = ? AND status = 'EXPIRED'",
                            ps, 1),
                     JOB_SEATS);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE schedule_id = ?"
                            " AND status = 'AVAILABLE' AND version = 1 AND reservation_id IS NULL"
                            " AND holder_user_id IS NULL AND hold_expires_at IS NULL",
                            ps, 1),
                     JOB_SEATS);
    assert_string_equal(reservation_status(rid, st, sizeof(st)), "EXPIRED");
    seat_row(sc, 1, st, sizeof(st), &version, &res);
    assert_string_equal(st, "AVAILABLE");
    assert_int_equal(version, 2);
    assert_int_equal(res, -1);
    assert_int_equal(on_reservation(&r, "GET", a, rid), 200);
    assert_reservation(&r, a, sc, 1, "EXPIRED", NULL);
    cr_test_res_free(&r);

    /* Idempotent: nothing left for another pair of runs. */
    assert_int_equal(run_expire_twice(), 0);
    free(a);
}

/* --- fixture --------------------------------------------------------------------------- */

static int setup(void **state)
{
    long long id = 0;
    struct cr_db_val p[] = {CR_DB_STRZ("test_holds concert"), CR_DB_STRZ("test_holds venue")};
    if (cr_db_exec("INSERT INTO concerts (title, venue) VALUES (?, ?)", p, 2, NULL, &id) != CR_OK)
        return -1;
    fx_concert = id;
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < fx_nschedules; i++) {
        struct cr_db_val p[] = {CR_DB_I(fx_schedules[i])};
        cr_db_exec("DELETE FROM reservations WHERE schedule_id = ?", p, 1, NULL, NULL);
        cr_db_exec("DELETE FROM seats WHERE schedule_id = ?", p, 1, NULL, NULL);
        cr_db_exec("DELETE FROM schedules WHERE id = ?", p, 1, NULL, NULL);
    }
    struct cr_db_val c[] = {CR_DB_I(fx_concert)};
    cr_db_exec("DELETE FROM concerts WHERE id = ?", c, 1, NULL, NULL);
    cr_db_close();
    return 0;
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_for_one_seat),
        cmocka_unit_test(test_fifty_users_fifty_seats),
        cmocka_unit_test(test_hold_limit_under_concurrency),
        cmocka_unit_test(test_repeat_read_and_owner),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_lazy_expiry),
        cmocka_unit_test(test_expire_job_twice_at_once),
    };
    return cmocka_run_group_tests_name("http_holds", tests, setup, teardown);
}
