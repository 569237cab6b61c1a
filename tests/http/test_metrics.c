/* test_metrics.c: GET /metrics (issue 17) with QUEUE_ACTIVE_MAX=2 and 2-second holds
 * (test_metrics.conf; test_metrics_timed runs the same in the timed queue mode, at one
 * admission a second, with its own test of the line's gauges):
 *   - the exposition: 200, text/plain; version=0.0.4, every family of the contract, the four
 *     hold outcomes from the start; a scrape counts in no counter;
 *   - exact: N answers from concurrent clients make concert_http_requests_total grow by
 *     exactly N (and the group's histogram count too), with a worker killed by kill -9 between
 *     two halves: its replacement claims a slot and adds to it, nothing is lost;
 *   - the line: waiting and active gauges and admissions as users join and leave;
 *   - holds: held, lost, cancelled, and expired (a run-out hold taken over by another user). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_test.h"

#define NREQ 400

/* Fetches /metrics into a malloc'd string (asserting 200 and the content type). */
static char *scrape(void)
{
    struct cr_test_res r;
    assert_int_equal(cr_test_req(&r, "GET", "/metrics", NULL, NULL), 200);
    char *ct = cr_test_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_true(strncmp(ct, "text/plain; version=0.0.4", 25) == 0);
    free(ct);
    char *s = strdup(r.body);
    cr_test_res_free(&r);
    return s;
}

/* The value of the series written exactly as series (name and labels), -1 when absent. */
static double value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

static double now_value(const char *series)
{
    char *t = scrape();
    double v = value(t, series);
    free(t);
    return v;
}

static void test_exposition(void **state)
{
    (void)state;
    char *t = scrape();
    static const char *const families[] = {
        "concert_http_requests_total",     "concert_http_request_duration_seconds",
        "concert_queue_waiting",           "concert_queue_active",
        "concert_queue_admitted_total",    "concert_holds_total",
        "concert_payments_total",          "concert_refunds_total",
        "concert_outbox_pending",          "concert_seats_available"};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char line[160];
        snprintf(line, sizeof(line), "# TYPE %s ", families[i]);
        if (strstr(t, line) == NULL)
            fail_msg("no family %s in:\n%s", families[i], t);
    }
    assert_true(value(t, "concert_holds_total{outcome=\"held\"}") >= 0);
    assert_true(value(t, "concert_holds_total{outcome=\"lost\"}") >= 0);
    assert_true(value(t, "concert_holds_total{outcome=\"expired\"}") >= 0);
    assert_true(value(t, "concert_holds_total{outcome=\"cancelled\"}") >= 0);
    assert_true(value(t, "concert_refunds_total") >= 0);
    assert_true(value(t, "concert_http_request_duration_seconds_bucket{group=\"wallet\",le=\"+Inf\"}") >= 0);
    assert_true(value(t, "concert_scrape_source_up{source=\"redis\"}") == 1);
    assert_true(value(t, "concert_scrape_source_up{source=\"mariadb\"}") == 1);
    assert_true(value(t, "concert_scrape_source_up{source=\"files\"}") == 1);
    /* A scrape is no answer of the concert group's counted ones. */
    double before = value(t, "concert_http_request_duration_seconds_count{group=\"concert\"}");
    free(t);
    for (int i = 0; i < 5; i++)
        free(scrape());
    assert_true(now_value("concert_http_request_duration_seconds_count{group=\"concert\"}") ==
                before);
    /* X-Forwarded-For changes nothing: the connecting address decides. */
    struct cr_test_res r;
    const char *h[] = {"X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9", NULL};
    assert_int_equal(cr_test_req(&r, "GET", "/metrics", NULL, h), 200);
    cr_test_res_free(&r);
    /* Another method: the contract's 405. */
    assert_int_equal(cr_test_req(&r, "POST", "/metrics", "{}", NULL), 405);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);
}

static char balance_path[128];
static int got_200;

static void balance_task(int i, void *ctx)
{
    (void)i;
    (void)ctx;
    struct cr_test_res r;
    if (cr_test_req(&r, "GET", balance_path, NULL, NULL) == 200)
        __atomic_fetch_add(&got_200, 1, __ATOMIC_RELAXED);
    cr_test_res_free(&r);
}

struct respawn {
    int old;
};

static int respawned(void *ctx)
{
    struct respawn *w = ctx;
    int pids[16], n = cr_test_group_workers("wallet", pids, 16);
    if (n != 2)
        return 0;
    for (int i = 0; i < n; i++)
        if (pids[i] == w->old)
            return 0;
    return 1;
}

static void test_exact_across_kill(void **state)
{
    (void)state;
    char uid[37];
    cr_test_new_user(uid);
    snprintf(balance_path, sizeof(balance_path), "/api/v1/users/%s/balance", uid);
    const char *ok = "concert_http_requests_total{group=\"wallet\",code=\"200\"}";
    const char *count = "concert_http_request_duration_seconds_count{group=\"wallet\"}";
    double ok0 = now_value(ok), count0 = now_value(count);
    assert_true(ok0 >= 0 && count0 >= 1); /* the series exist (the user's creation counted) */

    got_200 = 0;
    cr_test_parallel(8, NREQ / 2, balance_task, NULL);
    assert_int_equal(got_200, NREQ / 2);
    assert_true(now_value(ok) == ok0 + NREQ / 2);

    int pids[16];
    assert_int_equal(cr_test_group_workers("wallet", pids, 16), 2);
    struct respawn w = {pids[0]};
    assert_int_equal(kill(pids[0], SIGKILL), 0);
    assert_true(cr_test_wait_for(respawned, &w, 10000));

    cr_test_parallel(8, NREQ / 2, balance_task, NULL);
    assert_int_equal(got_200, NREQ);
    double ok1 = now_value(ok), count1 = now_value(count);
    print_message("  wallet 200s: %.0f -> %.0f after %d answers and a kill -9\n", ok0, ok1, NREQ);
    assert_true(ok1 == ok0 + NREQ);
    assert_true(count1 == count0 + NREQ);
}

/* --- the line ------------------------------------------------------------------------ */

static void join(const char *uid, char *token, size_t n, long want)
{
    char body[96];
    struct cr_test_res r;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", uid);
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL), want);
    snprintf(token, n, "%s", cr_test_str(&r, "token"));
    cr_test_res_free(&r);
}

static void leave(const char *token)
{
    char auth[400];
    struct cr_test_res r;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    assert_int_equal(cr_test_req(&r, "DELETE", "/api/v1/queue/tokens/current", NULL, h), 204);
    cr_test_res_free(&r);
}

static void test_queue_gauges_timed(void **state);

static void test_queue_gauges(void **state)
{
    char u[3][37], tok[3][300];
    if (strcmp(cr_config_get("QUEUE_MODE"), "timed") == 0) {
        test_queue_gauges_timed(state);
        return;
    }
    double adm0 = now_value("concert_queue_admitted_total");
    assert_true(now_value("concert_queue_waiting") == 0);
    assert_true(now_value("concert_queue_active") == 0);
    for (int i = 0; i < 3; i++) {
        cr_test_new_user(u[i]);
        join(u[i], tok[i], sizeof(tok[i]), 201);
    }
    char *t = scrape();
    assert_true(value(t, "concert_queue_active") == 2);
    assert_true(value(t, "concert_queue_waiting") == 1);
    assert_true(value(t, "concert_queue_admitted_total") == adm0 + 2);
    free(t);
    leave(tok[0]); /* the waiter goes in */
    t = scrape();
    assert_true(value(t, "concert_queue_active") == 2);
    assert_true(value(t, "concert_queue_waiting") == 0);
    assert_true(value(t, "concert_queue_admitted_total") == adm0 + 3);
    free(t);
    leave(tok[1]);
    leave(tok[2]);
    assert_true(now_value("concert_queue_active") == 0);
}

/* The timed mode: 5 joins, 2 admitted at once and then one a second; the gauges follow the
 * tokens' admission times, and a give-back takes one off the active ones. */
static int all_admitted(void *ctx)
{
    (void)ctx;
    return now_value("concert_queue_waiting") == 0;
}

static void test_queue_gauges_timed(void **state)
{
    (void)state;
    char u[5][37], tok[5][300];
    double adm0 = now_value("concert_queue_admitted_total");
    for (int i = 0; i < 5; i++) {
        cr_test_new_user(u[i]);
        join(u[i], tok[i], sizeof(tok[i]), 201);
    }
    char *t = scrape();
    double w = value(t, "concert_queue_waiting"), a = value(t, "concert_queue_active");
    print_message("  timed: waiting %.0f, active %.0f just after 5 joins\n", w, a);
    assert_true(w + a == 5);
    assert_true(value(t, "concert_queue_admitted_total") == adm0 + a);
    free(t);
    assert_true(cr_test_wait_for(all_admitted, NULL, 20000));
    t = scrape();
    assert_true(value(t, "concert_queue_active") == 5);
    assert_true(value(t, "concert_queue_admitted_total") == adm0 + 5);
    free(t);
    leave(tok[0]);
    t = scrape();
    assert_true(value(t, "concert_queue_active") == 4);
    assert_true(value(t, "concert_queue_admitted_total") == adm0 + 5);
    free(t);
    for (int i = 1; i < 5; i++)
        leave(tok[i]);
}

/* --- holds --------------------------------------------------------------------------- */

struct buyer {
    char user[37];
    char auth[400];
};

static void buyer_new(struct buyer *b)
{
    char token[300];
    cr_test_new_user(b->user);
    join(b->user, token, sizeof(token), 201);
    snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s", token);
}

/* Holds seat seat_no; returns the status and copies the reservation id (if any) into rid. */
static long hold(struct buyer *b, long long schedule, int seat_no, char *rid)
{
    char body[96];
    struct cr_test_res r;
    const char *h[] = {b->auth, NULL};
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":%d}", schedule, seat_no);
    long st = cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
    if (rid != NULL)
        snprintf(rid, 37, "%s", cr_test_str(&r, "reservationId"));
    cr_test_res_free(&r);
    return st;
}

static double outcome(const char *text, const char *o)
{
    char s[80];
    snprintf(s, sizeof(s), "concert_holds_total{outcome=\"%s\"}", o);
    return value(text, s);
}

static void test_holds(void **state)
{
    (void)state;
    struct buyer a, b;
    char rid[37], path[128];
    struct cr_test_res r;
    long long schedule = cr_test_new_schedule(1, 4);
    buyer_new(&a);
    buyer_new(&b);
    char *t0 = scrape();

    assert_int_equal(hold(&a, schedule, 1, rid), 201);
    assert_int_equal(hold(&b, schedule, 1, NULL), 409);
    assert_int_equal(hold(&a, schedule, 1, NULL), 200); /* the same hold again: no new one */
    assert_int_equal(hold(&a, schedule, 2, NULL), 201);
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    const char *h[] = {a.auth, NULL};
    assert_int_equal(cr_test_req(&r, "DELETE", path, NULL, h), 204);
    cr_test_res_free(&r);
    assert_int_equal(cr_test_req(&r, "DELETE", path, NULL, h), 204); /* nothing changes */
    cr_test_res_free(&r);
    char *t1 = scrape();
    assert_true(outcome(t1, "held") == outcome(t0, "held") + 2);
    assert_true(outcome(t1, "lost") == outcome(t0, "lost") + 1);
    assert_true(outcome(t1, "cancelled") == outcome(t0, "cancelled") + 1);
    assert_true(outcome(t1, "expired") == outcome(t0, "expired"));

    /* Seat 2's 2-second hold runs out; b takes the seat over, which expires a's hold. */
    long long deadline = cr_test_now_ms() + 15000;
    long st;
    while ((st = hold(&b, schedule, 2, NULL)) == 409 && cr_test_now_ms() < deadline)
        cr_test_sleep_ms(200);
    assert_int_equal(st, 201);
    char *t2 = scrape();
    assert_true(outcome(t2, "held") == outcome(t1, "held") + 1);
    assert_true(outcome(t2, "expired") == outcome(t1, "expired") + 1);
    assert_true(outcome(t2, "lost") >= outcome(t1, "lost"));
    free(t0);
    free(t1);
    free(t2);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_queue_gauges),
        cmocka_unit_test(test_exact_across_kill),
        cmocka_unit_test(test_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
