/* test_queue_timed.c: the timed mode (test_queue_timed.conf: QUEUE_MODE=timed, B = 10 at once,
 * R = 20 a second): tokens that check themselves (a changed, truncated, foreign-key or expired
 * token is 401; a listed old key verifies), tokens given back or used refused by the writing
 * routes at once and still readable, a seat map read without any Redis command, places
 * handed back handed on in arrival order, and 200 concurrent joins admitted in arrival order
 * within B + R*t over every window. The test knows the stack's keys, so it decodes tokens
 * with the library (cr_ttoken) to see their arrival numbers and admission times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_time.h"
#include "cr_tqueue.h"
#include "cr_ttoken.h"
#include "payment_fixture.h"

#define B 10
#define R 20
#define NJOIN 200

static char keys[512];

static void decode(const char *token, struct cr_ttoken *t)
{
    assert_int_equal(cr_ttoken_verify(token, t), CR_OK);
}

static long status_of(const char *method, const char *path, const char *body, const char *token)
{
    struct cr_test_res r;
    char auth[400];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    long st = cr_test_req(&r, method, path, body, h);
    if (st == 401)
        assert_string_equal(cr_test_error_code(&r), "TOKEN_INVALID");
    cr_test_res_free(&r);
    return st;
}

static char seats_path[64];

/* A token the stack would have issued to user, signed here with the key list spec. */
static void forge(char *out, const char *user, const char *spec, long long admit, long long exp)
{
    char err[256];
    struct cr_ttoken t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(cr_uuid_parse(user, &t.user), CR_OK);
    t.seq = 1000000000;
    t.admit_ms = admit;
    t.exp_ms = exp;
    assert_int_equal(cr_ttoken_keys_load(spec, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_ttoken_sign(&t, out), CR_OK);
    assert_int_equal(cr_ttoken_keys_load(keys, err, sizeof(err)), CR_OK); /* the stack's again */
}

static void test_changed_tokens_refused(void **state)
{
    (void)state;
    struct fx_user u;
    assert_int_equal(fx_user_new(&u, 0), 1); /* nobody waits yet: ACTIVE at once */
    assert_int_equal(status_of("GET", seats_path, NULL, u.token), 200);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, u.token), 200);

    char m[CR_TTOKEN_STRLEN + 8];
    size_t n = strlen(u.token);
    int tried = 0;
    for (size_t i = 0; i < n; i += 7) { /* a changed character, and one changed bit */
        const char *alt[] = {"A", "B", "-", "_"};
        for (int k = 0; k < 4; k++) {
            snprintf(m, sizeof(m), "%s", u.token);
            if (m[i] == alt[k][0])
                continue;
            m[i] = alt[k][0];
            assert_int_equal(status_of("GET", seats_path, NULL, m), 401);
            tried++;
        }
    }
    for (size_t len = n - 1; len > n - 6; len--) { /* truncated */
        snprintf(m, sizeof(m), "%.*s", (int)len, u.token);
        assert_int_equal(status_of("GET", seats_path, NULL, m), 401);
        assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, m), 401);
    }
    long long now = cr_time_now_ms();
    forge(m, u.id, "zzz:a-key-this-stack-has-never-heard-of-0123456789", now, now + 60000);
    assert_int_equal(status_of("GET", seats_path, NULL, m), 401);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, m), 401);
    /* Signed with the stack's own key, but expired. */
    forge(m, u.id, keys, now - 120000, now - 60000);
    assert_int_equal(status_of("GET", seats_path, NULL, m), 401);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, m), 401);
    print_message("%d changed tokens refused\n", tried);
}

/* The first key of QUEUE_TOKEN_KEYS signs; every listed one verifies; one not listed (rotated
 * out) does not. */
static void test_key_rotation(void **state)
{
    (void)state;
    struct fx_user u;
    char tok[CR_TTOKEN_STRLEN];
    struct cr_ttoken t;
    assert_int_equal(fx_user_new(&u, 0), 1);
    decode(u.token, &t);
    assert_string_equal(t.kid, "new");
    long long now = cr_time_now_ms();
    const char *old = strstr(keys, "old:");
    assert_non_null(old);
    forge(tok, u.id, old, now, now + 60000);
    assert_int_equal(status_of("GET", seats_path, NULL, tok), 200);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, tok), 200);
    forge(tok, u.id, "older:test-only-secret-older-0123456789abcdefgh", now, now + 60000);
    assert_int_equal(status_of("GET", seats_path, NULL, tok), 401);
}

static void test_given_back_or_used_refused_at_once(void **state)
{
    (void)state;
    struct fx_user g, p;
    char rid[37], rid2[37];
    long long exp;
    long long sc = fx_schedule(10);
    /* Given back: 204, then every writing route refuses it; the reading ones still read. */
    assert_int_equal(fx_user_new(&g, 100000), 1);
    assert_int_equal(fx_hold(&g, sc, 1, rid, &exp), 201);
    assert_int_equal(status_of("DELETE", "/api/v1/queue/tokens/current", NULL, g.token), 204);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, g.token), 401);
    assert_int_equal(status_of("DELETE", "/api/v1/queue/tokens/current", NULL, g.token), 401);
    assert_int_equal(fx_hold(&g, sc, 2, rid2, &exp), 401);
    struct cr_test_res r;
    const char *ids[] = {rid};
    assert_int_equal(fx_pay(&r, &g, ids, 1, NULL), 401);
    cr_test_res_free(&r);
    char path[96];
    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    assert_int_equal(status_of("GET", path, NULL, g.token), 200);
    assert_int_equal(status_of("DELETE", path, NULL, g.token), 401);
    assert_int_equal(status_of("GET", seats_path, NULL, g.token), 200);
    /* A new join after the give-back is a new token. */
    char before[300];
    snprintf(before, sizeof(before), "%s", g.token);
    assert_true(fx_token(&g) >= 0);
    assert_string_not_equal(g.token, before);

    /* Used by a payment: the same, from the moment the payment answered. */
    assert_int_equal(fx_user_new(&p, 100000), 1);
    assert_int_equal(fx_hold(&p, sc, 3, rid, &exp), 201);
    assert_int_equal(fx_hold(&p, sc, 4, rid2, &exp), 201);
    ids[0] = rid;
    assert_int_equal(fx_pay(&r, &p, ids, 1, "timed-pay-1"), 201);
    cr_test_res_free(&r);
    assert_int_equal(fx_hold(&p, sc, 5, rid, &exp), 401);
    ids[0] = rid2;
    assert_int_equal(fx_pay(&r, &p, ids, 1, "timed-pay-2"), 401);
    cr_test_res_free(&r);
    assert_int_equal(status_of("GET", "/api/v1/queue/tokens/current", NULL, p.token), 401);
    assert_int_equal(status_of("GET", seats_path, NULL, p.token), 200);
}

static void test_seat_map_reads_make_no_redis_command(void **state)
{
    (void)state;
    struct fx_user u;
    assert_int_equal(fx_user_new(&u, 0), 1);
    long long before = cr_test_redis_calls();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(status_of("GET", seats_path, NULL, u.token), 200);
    long long after = cr_test_redis_calls();
    print_message("Redis commands during 1000 seat-map reads: %lld (the INFO itself: 1)\n",
                  after - before);
    assert_true(after - before <= 1);
}

/* The expiry job in the timed mode: it prunes the record of given-back and used tokens (none
 * has expired here, so it keeps them) and reports the schedule. */
static void test_expiry_job_reports_the_timed_mode(void **state)
{
    (void)state;
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof(cmd), "%s/concert-expire", getenv("CR_BIN_DIR"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    json_object *o = json_tokener_parse(line), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "queueMode", &v));
    assert_string_equal(json_object_get_string(v), "timed");
    assert_true(json_object_object_get_ex(o, "revokedLive", &v));
    assert_true(json_object_get_int64(v) >= 2); /* one given back, one used, above */
    assert_true(json_object_object_get_ex(o, "revokedPruned", &v));
    assert_int_equal(json_object_get_int64(v), 0);
    assert_true(json_object_object_get_ex(o, "tokensIssued", &v));
    assert_true(json_object_get_int64(v) >= 5);
    assert_true(json_object_object_get_ex(o, "backlogSeconds", &v));
    json_object_put(o);
}

static struct fx_user joiners[NJOIN];
static long long join_status[NJOIN], join_pos[NJOIN], join_wait[NJOIN], join_t[NJOIN];

static void make_task(int i, void *ctx)
{
    (void)ctx;
    struct cr_test_res r;
    memset(&joiners[i], 0, sizeof(joiners[i]));
    cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL);
    snprintf(joiners[i].id, sizeof(joiners[i].id), "%s", cr_test_str(&r, "userId"));
    cr_test_res_free(&r);
}

static void join_task(int i, void *ctx)
{
    (void)ctx;
    struct cr_test_res r;
    char body[96];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", joiners[i].id);
    join_status[i] = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    join_t[i] = cr_time_now_ms();
    snprintf(joiners[i].token, sizeof(joiners[i].token), "%s", cr_test_str(&r, "token"));
    join_pos[i] = cr_test_int(&r, "position");
    join_wait[i] = cr_test_int(&r, "estimatedWaitSeconds");
    cr_test_res_free(&r);
}

/* A place given back is handed on to the next arrival, never past an earlier one: with a line
 * in front, p and q join, p gives back, then s arrives at q's time (not one interval after it)
 * and t one interval after s. Tokens issued before keep their times. */
static void test_given_back_place_handed_on(void **state)
{
    (void)state;
    struct fx_user p, q, s, t;
    struct cr_ttoken tp, tq, ts, tt, again;
    const long long T = 1000 / R;
    /* A crowd of 100 at once: a line of about (100 - B) / R = 4.5 s in front. */
    cr_test_parallel(16, 100, make_task, NULL);
    cr_test_parallel(16, 100, join_task, NULL);
    assert_int_equal(fx_user_new(&p, 0), 0);
    assert_int_equal(fx_user_new(&q, 0), 0);
    decode(p.token, &tp);
    decode(q.token, &tq);
    assert_true(tq.seq > tp.seq);
    assert_true(tq.admit_ms - tp.admit_ms >= T - 1 && tq.admit_ms - tp.admit_ms <= T + 1);
    assert_true(tq.admit_ms > cr_time_now_ms() + 200); /* still a line: the test means something */
    assert_int_equal(status_of("DELETE", "/api/v1/queue/tokens/current", NULL, p.token), 204);
    assert_int_equal(fx_user_new(&s, 0), 0);
    assert_int_equal(fx_user_new(&t, 0), 0);
    decode(s.token, &ts);
    decode(t.token, &tt);
    print_message("admission after q: s +%lld ms (p gave back), t +%lld ms\n",
                  ts.admit_ms - tq.admit_ms, tt.admit_ms - tq.admit_ms);
    assert_true(ts.admit_ms >= tq.admit_ms);     /* never before an earlier arrival */
    assert_true(ts.admit_ms <= tq.admit_ms + 1); /* but with p's place: no interval lost */
    assert_true(tt.admit_ms - ts.admit_ms >= T - 1 && tt.admit_ms - ts.admit_ms <= T + 1);
    /* q keeps its signed time: a re-join returns the very same token. */
    char qtok[300];
    snprintf(qtok, sizeof(qtok), "%s", q.token);
    assert_int_equal(fx_token(&q), 0);
    assert_string_equal(q.token, qtok);
    decode(q.token, &again);
    assert_int_equal(again.admit_ms, tq.admit_ms);
}

static int by_seq(const void *a, const void *b)
{
    const struct cr_ttoken *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct cr_ttoken decoded[NJOIN];

/* 200 concurrent joins: admission order is arrival order, and over every window of w ms at
 * most B + R*w/1000 are admitted (for w = 1 s and 10 s); the schedule is tight (R a second). */
static void test_concurrent_joins_in_arrival_order(void **state)
{
    (void)state;
    cr_test_parallel(16, NJOIN, make_task, NULL);
    cr_test_parallel(16, NJOIN, join_task, NULL);
    for (int i = 0; i < NJOIN; i++) {
        assert_int_equal(join_status[i], 201);
        assert_true(strlen(joiners[i].token) <= 256);
        decode(joiners[i].token, &decoded[i]);
        /* Position and wait as the contract computes them, from the token and the clock. */
        if (decoded[i].admit_ms > join_t[i] + 1000) {
            assert_true(join_pos[i] >= 1);
            assert_true(join_wait[i] >= (decoded[i].admit_ms - join_t[i]) / 1000);
        }
    }
    qsort(decoded, NJOIN, sizeof(decoded[0]), by_seq);
    for (int i = 1; i < NJOIN; i++) {
        assert_int_equal(decoded[i].seq, decoded[i - 1].seq + 1); /* gap-free arrival numbers */
        assert_true(decoded[i].admit_ms >= decoded[i - 1].admit_ms);
    }
    const long long windows[] = {1000, 10000};
    for (int w = 0; w < 2; w++) {
        long long most = 0;
        for (int i = 0, j = 0; i < NJOIN; i++) {
            while (j < NJOIN && decoded[j].admit_ms < decoded[i].admit_ms + windows[w])
                j++;
            if (j - i > most)
                most = j - i;
        }
        print_message("most admitted in a %lld ms window: %lld (bound %lld)\n", windows[w],
                      most, B + R * windows[w] / 1000);
        assert_true(most <= B + R * windows[w] / 1000);
    }
    long long span = decoded[NJOIN - 1].admit_ms - decoded[0].admit_ms;
    print_message("200 admissions spread over %lld ms (R = %d a second)\n", span, R);
    assert_true(span >= (NJOIN - 1) * 1000 / R - (B + 1) * 1000 / R); /* no faster than R */
}

/* A waiting token of that crowd is refused (403) before its admission time and let in at it. */
static void test_admitted_at_its_time(void **state)
{
    (void)state;
    long long now = cr_time_now_ms(), admit = 0;
    const char *tok = NULL;
    for (int i = 0; i < NJOIN && tok == NULL; i++) {
        struct cr_ttoken t;
        decode(joiners[i].token, &t);
        if (t.admit_ms > now + 1500) {
            tok = joiners[i].token;
            admit = t.admit_ms;
        }
    }
    if (tok == NULL)
        skip(); /* the machine was too slow to keep a line: nothing to watch */
    int seen403 = 0;
    long long first_ok = -1;
    for (long long end = admit + 10000; cr_time_now_ms() < end;) {
        long long t0 = cr_time_now_ms();
        long st = status_of("GET", seats_path, NULL, tok);
        if (st == 200) {
            first_ok = t0;
            break;
        }
        assert_int_equal(st, 403);
        seen403 = 1;
        cr_test_sleep_ms(20);
    }
    print_message("let in %lld ms after its admission time\n", first_ok - admit);
    assert_true(seen403);
    assert_true(first_ok >= admit - 5);
    assert_true(first_ok >= 0);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    fx_init("timed");
    snprintf(keys, sizeof(keys), "%s", cr_config_get("QUEUE_TOKEN_KEYS"));
    if (strcmp(cr_config_get("QUEUE_MODE"), "timed") != 0 ||
        cr_ttoken_keys_load(keys, err, sizeof(err)) != CR_OK) {
        fprintf(stderr, "test_queue_timed needs its .conf: %s\n", err);
        return -1;
    }
    snprintf(seats_path, sizeof(seats_path), "/api/v1/schedules/%lld/seats", fx_schedule(20));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup();
    cr_ttoken_keys_clear();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_tokens_refused),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_given_back_or_used_refused_at_once),
        cmocka_unit_test(test_seat_map_reads_make_no_redis_command),
        cmocka_unit_test(test_expiry_job_reports_the_timed_mode),
        cmocka_unit_test(test_given_back_place_handed_on),
        cmocka_unit_test(test_concurrent_joins_in_arrival_order),
        cmocka_unit_test(test_admitted_at_its_time),
    };
    return cmocka_run_group_tests_name("http_queue_timed", tests, setup, teardown);
}
