/* payment_fixture.c: fixtures, requests and database checks shared by the payment tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_time.h"
#include "cr_uuid.h"
#include "payment_fixture.h"

#define FX_MAX_SCHEDULES 16

static long long fx_concert;
static long long fx_schedules[FX_MAX_SCHEDULES];
static int fx_nschedules;

void fx_init(const char *name)
{
    long long id = 0;
    cr_test_init();
    struct cr_db_val p[] = {CR_DB_STRZ(name)};
    if (cr_db_exec("INSERT INTO concerts (title, venue) VALUES (?, 'payment test hall')", p, 1,
                   NULL, &id) != CR_OK) {
        fprintf(stderr, "%s: cannot insert the test concert\n", name);
        exit(1);
    }
    fx_concert = id;
}

void fx_cleanup(void)
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
}

long long fx_schedule(int nseats)
{
    assert_true(fx_nschedules < FX_MAX_SCHEDULES);
    long long id = cr_test_new_schedule(fx_concert, nseats);
    fx_schedules[fx_nschedules++] = id;
    return id;
}

/* --- requests (thread-safe, no asserts) ------------------------------------------------- */

int fx_token(struct fx_user *u)
{
    struct cr_test_res r;
    char body[128];
    int result = -1;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", u->id);
    long st = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    if (st == 200 || st == 201) {
        snprintf(u->token, sizeof(u->token), "%s", cr_test_str(&r, "token"));
        snprintf(u->auth, sizeof(u->auth), "Authorization: Bearer %s", u->token);
        result = strcmp(cr_test_str(&r, "status"), "ACTIVE") == 0 ? 1 : 0;
    }
    cr_test_res_free(&r);
    return result;
}

int fx_user_new(struct fx_user *u, long long balance)
{
    struct cr_test_res r;
    char path[128], body[64];
    memset(u, 0, sizeof(*u));
    long st = cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL);
    snprintf(u->id, sizeof(u->id), "%s", cr_test_str(&r, "userId"));
    cr_test_res_free(&r);
    if (st != 201)
        return -1;
    if (balance > 0) {
        snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", u->id);
        snprintf(body, sizeof(body), "{\"amount\":%lld}", balance);
        st = cr_test_req(&r, "POST", path, body, NULL);
        cr_test_res_free(&r);
        if (st != 200)
            return -1;
    }
    return fx_token(u);
}

long fx_hold(const struct fx_user *u, long long schedule, int seat, char *rid, long long *expires)
{
    struct cr_test_res r;
    char body[128];
    const char *h[] = {u->auth, NULL};
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":%d}", schedule, seat);
    long st = cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
    if (st == 201) {
        int64_t ms = 0;
        snprintf(rid, 37, "%s", cr_test_str(&r, "reservationId"));
        cr_time_parse(cr_test_str(&r, "expiresAt"), &ms);
        if (expires != NULL)
            *expires = ms;
    }
    cr_test_res_free(&r);
    return st;
}

long fx_pay_raw(struct cr_test_res *r, const char *auth, const char *body, const char *key)
{
    char keyh[200];
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (auth != NULL)
        h[n++] = auth;
    if (key != NULL) {
        snprintf(keyh, sizeof(keyh), "Idempotency-Key: %s", key);
        h[n++] = keyh;
    }
    return cr_test_req(r, "POST", "/api/v1/payments", body, h);
}

long fx_pay(struct cr_test_res *r, const struct fx_user *u, const char *const *rids, int n,
            const char *key)
{
    char body[512];
    size_t len = (size_t)snprintf(body, sizeof(body), "{\"reservationIds\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"%s\"", i ? "," : "", rids[i]);
    snprintf(body + len, sizeof(body) - len, "]}");
    return fx_pay_raw(r, u->auth, body, key);
}

/* The integer field key of the JSON object in line, or -1. */
static long long fx_json_field(const char *line, const char *key)
{
    json_object *o = json_tokener_parse(line), *v;
    long long n = -1;
    if (o != NULL && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
        n = json_object_get_int64(v);
    json_object_put(o);
    return n;
}

int fx_expire(long long *written, long long *released)
{
    char cmd[1200], line[1024] = "";
    const char *bin = getenv("CR_BIN_DIR");
    if (bin == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "'%s/concert-expire'", bin);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    int status = pclose(f);
    if (written != NULL)
        *written = fx_json_field(line, "historyWritten");
    if (released != NULL)
        *released = fx_json_field(line, "holdsReleased");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- checks ------------------------------------------------------------------------------ */

long long fx_user_db_id(const char *user)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(user, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT id FROM users WHERE uuid = ?", p, 1);
}

long long fx_balance(const char *user)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(user, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT balance FROM users WHERE uuid = ?", p, 1);
}

long long fx_reservation_db_id(const char *rid)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(rid, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT id FROM reservations WHERE uuid = ?", p, 1);
}

/* The one string cell of a query about reservation rid, into buf. */
static const char *fx_res_string(const char *sql, const char *rid, char *buf)
{
    struct cr_uuid u;
    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    assert_int_equal(cr_uuid_parse(rid, &u), CR_OK);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    assert_int_equal(cr_db_query(a, sql, p, 1, &rows), CR_OK);
    assert_int_equal(rows.nrows, 1);
    snprintf(buf, 16, "%s", CR_DB_CELL(&rows, 0, 0)->s);
    cr_arena_free(a);
    return buf;
}

const char *fx_res_status(const char *rid, char *buf)
{
    return fx_res_string("SELECT status FROM reservations WHERE uuid = ?", rid, buf);
}

const char *fx_seat_status(const char *rid, char *buf)
{
    return fx_res_string("SELECT t.status FROM reservations AS r JOIN seats AS t"
                         " ON t.id = r.seat_id WHERE r.uuid = ?",
                         rid, buf);
}

long long fx_payments(const char *user)
{
    struct cr_db_val p[] = {CR_DB_I(fx_user_db_id(user))};
    return cr_test_db_int("SELECT COUNT(*) FROM payments WHERE user_id = ?", p, 1);
}

long long fx_payment_entries(const char *user)
{
    struct cr_db_val p[] = {CR_DB_I(fx_user_db_id(user))};
    return cr_test_db_int("SELECT COUNT(*) FROM balance_entries WHERE user_id = ? AND type = 'PAYMENT'",
                     p, 1);
}

long long fx_history_rows(const char *user)
{
    struct cr_db_val p[] = {CR_DB_I(fx_user_db_id(user))};
    return cr_test_db_int("SELECT COUNT(*) FROM payment_history WHERE user_id = ?", p, 1);
}

long long fx_history_rows_reach(const char *user, long long want)
{
    long long n = fx_history_rows(user);
    for (long long end = cr_test_now_ms() + 10000; n != want && cr_test_now_ms() < end;) {
        cr_test_sleep_ms(20);
        n = fx_history_rows(user);
    }
    return n;
}
