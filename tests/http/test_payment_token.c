/* test_payment_token.c: a payment spends its queue token exactly once, and a retry after a
 * dead worker neither waits 30 s nor pays twice (issue 13, findings 6, 9 and 10):
 *   - 20 rounds of two concurrent payments with one token, each for another hold of its
 *     user: exactly one 201 and one 401 TOKEN_INVALID, one payment, one ledger entry;
 *   - the payment worker, then the wallet worker, killed (kill -9) while it holds an
 *     Idempotency-Key claim, held up by a row lock of ours: while the worker lives a repeat
 *     is 409 REQUEST_IN_PROGRESS; once it is dead and the lock gone, a retry with the same
 *     key succeeds within 3 s, and the money moved once;
 *   - the payment worker killed after its COMMIT, before it gave the token back (Redis writes
 *     paused): the retry with the same key gets the recorded 201 and leaves the token spent
 *     (401) and the waiting user admitted.
 * test_payment_token.conf: QUEUE_ACTIVE_MAX=1, so a token left active shows as the next user
 * kept waiting; REDIS_TIMEOUT_MS=5000, so a worker waits on paused Redis until it is killed.
 * Needs the stack directory (CR_STACK_DIR, as tests/run-with-stack.sh sets it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mysql.h>

#include "cr_arena.h"
#include "cr_config.h"
#include "cr_error.h"
#include "cr_redis.h"
#include "cr_time.h"
#include "payment_fixture.h"

#define RICH 1000000LL
#define ROUNDS 20
#define TAKEOVER_MS 3000 /* a dead owner's claim is taken over within this */

static long long sched;
static int next_seat = 1;

static void make_user(struct fx_user *u)
{
    assert_int_equal(fx_user_new(u, RICH), 1);
}

/* Holds a fresh seat for u; its reservation id goes to rid, its seat number is returned. */
static int hold_new(const struct fx_user *u, char *rid)
{
    int seat = next_seat++;
    long st = fx_hold(u, sched, seat, rid, NULL);
    if (st != 201)
        print_error("hold of seat %d: %ld\n", seat, st);
    assert_int_equal(st, 201);
    return seat;
}

static long token_state(const char *auth, struct cr_test_res *r)
{
    const char *h[] = {auth, NULL};
    return cr_test_req(r, "GET", "/api/v1/queue/tokens/current", NULL, h);
}

static void assert_token_spent(const struct fx_user *u)
{
    struct cr_test_res r;
    token_state(u->auth, &r);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
}

/* 1 when worker pid waits for its next request (blocked in accept), as idle FastCGI workers
 * do: /proc/PID/syscall names the system call a blocked process is in. */
static int worker_idle(int pid)
{
    char path[64], buf[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    long nr = strtol(buf, NULL, 10);
    return buf[0] >= '0' && buf[0] <= '9' && (nr == SYS_accept || nr == SYS_accept4);
}

/* Kills (-9) the one worker of a group that is busy with a request (the others wait in
 * accept); multiwatch starts a new one. Fails unless exactly one is busy. */
static void kill_busy_worker(const char *group)
{
    int pids[16], busy = -1, nbusy = 0;
    int n = cr_test_group_workers(group, pids, 16);
    for (int i = 0; i < n; i++)
        if (!worker_idle(pids[i])) {
            busy = pids[i];
            nbusy++;
        }
    if (nbusy != 1)
        fail_msg("%d of the %d %s workers are busy; want 1", nbusy, n, group);
    assert_int_equal(kill(busy, SIGKILL), 0);
}

/* --- one token, two payments at once ------------------------------------------------- */

struct duel {
    const struct fx_user *u;
    const char *rid[2];
    long st[2];
    char code[2][40];
    pthread_barrier_t go;
};

struct duel_arg {
    struct duel *d;
    int i;
};

static void *duel_pay(void *arg)
{
    struct duel_arg *a = arg;
    struct duel *d = a->d;
    struct cr_test_res r;
    const char *p[] = {d->rid[a->i]};
    pthread_barrier_wait(&d->go); /* both requests leave together */
    d->st[a->i] = fx_pay(&r, d->u, p, 1, NULL);
    snprintf(d->code[a->i], sizeof(d->code[a->i]), "%s", cr_test_error_code(&r));
    cr_test_res_free(&r);
    return NULL;
}

static void test_one_token_pays_once(void **state)
{
    (void)state;
    int won[2] = {0, 0};
    for (int round = 0; round < ROUNDS; round++) {
        struct fx_user u;
        char r1[37], r2[37], st[16];
        make_user(&u);
        int seats[2];
        seats[0] = hold_new(&u, r1);
        seats[1] = hold_new(&u, r2);
        struct duel d = {.u = &u, .rid = {r1, r2}};
        struct duel_arg args[2] = {{&d, 0}, {&d, 1}};
        pthread_t t[2];
        pthread_barrier_init(&d.go, NULL, 2);
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, duel_pay, &args[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&d.go);

        int w = d.st[0] == 201 ? 0 : 1;
        if (d.st[w] != 201 || d.st[1 - w] != 401)
            print_error("round %d: payments answered %ld %s and %ld %s\n", round, d.st[0],
                        d.code[0], d.st[1], d.code[1]);
        assert_int_equal(d.st[w], 201);
        assert_int_equal(d.st[1 - w], 401);
        assert_string_equal(d.code[1 - w], "TOKEN_INVALID");
        won[w]++;
        /* One payment, one ledger entry, the refused hold untouched. */
        assert_int_equal(fx_payments(u.id), 1);
        assert_int_equal(fx_payment_entries(u.id), 1);
        assert_int_equal(fx_balance(u.id), RICH - 1000LL * seats[w]);
        assert_string_equal(fx_res_status(d.rid[w], st), "PAID");
        assert_string_equal(fx_res_status(d.rid[1 - w], st), "HELD");
        assert_token_spent(&u);
    }
    print_message("%d rounds: the first request won %d, the second %d; the other always 401\n",
                  ROUNDS, won[0], won[1]);
}

/* --- a dead worker's claim ----------------------------------------------------------- */

/* A connection of our own that locks a user's row (SELECT ... FOR UPDATE in an open
 * transaction), so that a request needing it waits inside its claim. */
static MYSQL *lock_user_row(long long user_db_id)
{
    char q[128];
    MYSQL *m = mysql_init(NULL);
    const char *sock = cr_config_get("DB_SOCKET");
    int use_sock = sock != NULL && *sock != '\0';
    assert_non_null(mysql_real_connect(m, use_sock ? "localhost" : cr_config_get("DB_HOST"),
                                       cr_config_get("DB_USER"), cr_config_get("DB_PASSWORD"),
                                       cr_config_get("DB_NAME"),
                                       use_sock ? 0 : (unsigned int)cr_config_int("DB_PORT"),
                                       use_sock ? sock : NULL, 0));
    snprintf(q, sizeof(q), "SELECT balance FROM users WHERE id = %lld FOR UPDATE", user_db_id);
    assert_int_equal(mysql_query(m, "START TRANSACTION"), 0);
    assert_int_equal(mysql_query(m, q), 0);
    mysql_free_result(mysql_store_result(m));
    return m;
}

static void unlock_user_row(MYSQL *m)
{
    assert_int_equal(mysql_query(m, "COMMIT"), 0);
    mysql_close(m);
}

/* Waits (up to 5 s) until the request that claimed (user, key) is inside its transaction,
 * waiting for the user's row that we hold (no other session runs a statement on users). */
static void wait_claim_blocked(long long user_db_id, const char *key)
{
    struct cr_db_val p[] = {CR_DB_I(user_db_id), CR_DB_STRZ(key)};
    long long t0 = cr_time_mono_ms();
    while (cr_time_mono_ms() - t0 < 5000) {
        if (cr_test_db_int("SELECT COUNT(*) FROM idempotency_keys WHERE user_id = ? "
                           "AND idem_key = ? AND state = 'IN_PROGRESS'",
                           p, 2) == 1 &&
            cr_test_db_int("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                           "WHERE ID <> CONNECTION_ID() AND (INFO LIKE '%FROM users %' "
                           "OR INFO LIKE '%UPDATE users %')",
                           NULL, 0) == 1)
            return;
        usleep(20000);
    }
    fail_msg("no request waits inside the claim of key %s", key);
}

/* One request on a thread: the first try, which its worker's death cuts off. */
struct first_try {
    const char *method, *path, *body;
    const char *headers[3];
    long status;
};

static void *first_try_run(void *arg)
{
    struct first_try *f = arg;
    struct cr_test_res r;
    f->status = cr_test_req(&r, f->method, f->path, f->body, f->headers);
    cr_test_res_free(&r);
    return NULL;
}

/* The whole scenario for one route: the first try waits in its claim behind our lock of the
 * user's row; a repeat meanwhile is 409 REQUEST_IN_PROGRESS (its owner lives); the group's
 * workers are killed and the lock given up; then the same request is retried until it
 * answers want, which must happen within TAKEOVER_MS. Returns the time it took. */
static long long kill_in_claim(const char *group, struct first_try *f, long long user_db_id,
                               const char *key, long want)
{
    struct cr_test_res r;
    pthread_t t;
    MYSQL *lock = lock_user_row(user_db_id);
    pthread_create(&t, NULL, first_try_run, f);
    wait_claim_blocked(user_db_id, key);

    cr_test_req(&r, f->method, f->path, f->body, f->headers);
    cr_test_assert_error(&r, 409, "REQUEST_IN_PROGRESS");
    cr_test_res_free(&r);

    kill_busy_worker(group);
    pthread_join(t, NULL);
    unlock_user_row(lock);
    long long t0 = cr_time_mono_ms(), took = -1;
    long last = 0;
    int tries = 0;
    while (cr_time_mono_ms() - t0 < TAKEOVER_MS + 2000) {
        last = cr_test_req(&r, f->method, f->path, f->body, f->headers);
        tries++;
        if (last == want) {
            took = cr_time_mono_ms() - t0;
            cr_test_res_free(&r);
            break;
        }
        cr_test_res_free(&r);
        usleep(50000);
    }
    print_message("  %s: first try %ld (worker killed), then %d retries; %ld after %lld ms\n",
                  group, f->status, tries, last, took);
    assert_true(f->status >= 500); /* the client never got the first answer */
    assert_int_equal(last, want);
    assert_true(took <= TAKEOVER_MS);
    return took;
}

static void test_dead_payment_worker_claim(void **state)
{
    (void)state;
    struct fx_user u;
    char rid[37], st[16], keyh[64];
    const char *key = "dead-pay-1";
    make_user(&u);
    int seat = hold_new(&u, rid);
    struct first_try f = {.method = "POST", .path = "/api/v1/payments"};
    char body[128];
    snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\"]}", rid);
    snprintf(keyh, sizeof(keyh), "Idempotency-Key: %s", key);
    f.body = body;
    f.headers[0] = u.auth;
    f.headers[1] = keyh;

    kill_in_claim("payment", &f, fx_user_db_id(u.id), key, 201);
    assert_int_equal(fx_payments(u.id), 1);
    assert_int_equal(fx_payment_entries(u.id), 1);
    assert_int_equal(fx_balance(u.id), RICH - 1000LL * seat);
    assert_string_equal(fx_res_status(rid, st), "PAID");
    assert_token_spent(&u);
}

static void test_dead_wallet_worker_claim(void **state)
{
    (void)state;
    struct fx_user u;
    char path[128], keyh[64];
    const char *key = "dead-charge-1";
    make_user(&u);
    long long id = fx_user_db_id(u.id);
    struct cr_db_val p[] = {CR_DB_I(id)};
    long long charges = cr_test_db_int("SELECT COUNT(*) FROM balance_entries "
                                       "WHERE user_id = ? AND type = 'CHARGE'",
                                       p, 1);
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", u.id);
    snprintf(keyh, sizeof(keyh), "Idempotency-Key: %s", key);
    struct first_try f = {.method = "POST", .path = path, .body = "{\"amount\":777}"};
    f.headers[0] = keyh;

    kill_in_claim("wallet", &f, id, key, 200);
    assert_int_equal(fx_balance(u.id), RICH + 777);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM balance_entries "
                                    "WHERE user_id = ? AND type = 'CHARGE'",
                                    p, 1),
                     charges + 1);
    /* The user's token is left unused: give it back for the next test (one active place). */
    const char *h[] = {u.auth, NULL};
    struct cr_test_res r;
    assert_int_equal(cr_test_req(&r, "DELETE", "/api/v1/queue/tokens/current", NULL, h), 204);
    cr_test_res_free(&r);
}

/* --- a replay after the worker died between COMMIT and give-back ---------------------- */

/* CLIENT PAUSE ms WRITE for ms > 0 (reads still run, scripts wait), CLIENT UNPAUSE for 0. */
static void redis_pause_writes(int ms)
{
    struct cr_arena *a = cr_arena_new();
    redisReply *r = NULL;
    int rc = ms > 0 ? cr_redis_cmd(a, &r, "CLIENT PAUSE %d WRITE", ms)
                    : cr_redis_cmd(a, &r, "CLIENT UNPAUSE");
    assert_int_equal(rc, CR_OK);
    assert_true(r->type == REDIS_REPLY_STATUS);
    cr_arena_free(a);
}

static void test_replay_spends_token(void **state)
{
    (void)state;
    struct fx_user u, w;
    struct cr_test_res r;
    char rid[37], keyh[64], body[128];
    make_user(&u);
    /* The only active place is u's: w waits behind it. */
    assert_int_equal(fx_user_new(&w, 0), 0);
    int seat = hold_new(&u, rid);
    snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\"]}", rid);
    snprintf(keyh, sizeof(keyh), "Idempotency-Key: %s", "lost-release-1");
    struct first_try f = {.method = "POST", .path = "/api/v1/payments", .body = body};
    f.headers[0] = u.auth;
    f.headers[1] = keyh;

    /* Redis takes no writes: the payment commits, then waits to give its token back. */
    redis_pause_writes(8000);
    pthread_t t;
    pthread_create(&t, NULL, first_try_run, &f);
    long long t0 = cr_time_mono_ms();
    while (fx_payments(u.id) == 0 && cr_time_mono_ms() - t0 < 5000)
        usleep(20000);
    assert_int_equal(fx_payments(u.id), 1);
    kill_busy_worker("payment");
    pthread_join(t, NULL);
    redis_pause_writes(0);
    assert_true(f.status >= 500); /* the answer was lost */

    /* The retry with the same key: the recorded 201 (once the workers are back). */
    long st = 0;
    t0 = cr_time_mono_ms();
    while (cr_time_mono_ms() - t0 < 5000) {
        st = cr_test_req(&r, "POST", "/api/v1/payments", body, f.headers);
        if (st == 201)
            break;
        cr_test_res_free(&r);
        usleep(50000);
    }
    assert_int_equal(st, 201);
    assert_int_equal(cr_test_int(&r, "amount"), 1000LL * seat);
    cr_test_res_free(&r);

    /* ... and the token is as spent as after the first answer: 401 everywhere, its place
     * handed on to w at once. */
    assert_token_spent(&u);
    assert_int_equal(token_state(w.auth, &r), 200);
    assert_string_equal(cr_test_str(&r, "status"), "ACTIVE");
    cr_test_res_free(&r);
    /* A second replay is still the recorded 201 and changes nothing. */
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/payments", body, f.headers), 201);
    cr_test_res_free(&r);
    assert_int_equal(token_state(w.auth, &r), 200);
    assert_string_equal(cr_test_str(&r, "status"), "ACTIVE");
    cr_test_res_free(&r);
    assert_int_equal(fx_payments(u.id), 1);
    assert_int_equal(fx_payment_entries(u.id), 1);
    assert_int_equal(fx_balance(u.id), RICH - 1000LL * seat);

    const char *h[] = {w.auth, NULL};
    assert_int_equal(cr_test_req(&r, "DELETE", "/api/v1/queue/tokens/current", NULL, h), 204);
    cr_test_res_free(&r);
}

static int setup(void **state)
{
    (void)state;
    if (getenv("CR_STACK_DIR") == NULL) {
        fprintf(stderr, "CR_STACK_DIR must be set (tests/run-with-stack.sh)\n");
        return -1;
    }
    sched = fx_schedule(2 * ROUNDS + 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup();
    return 0;
}

int main(void)
{
    fx_init("payment token test concert");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_token_pays_once),
        cmocka_unit_test(test_dead_payment_worker_claim),
        cmocka_unit_test(test_dead_wallet_worker_claim),
        cmocka_unit_test(test_replay_spends_token),
    };
    return cmocka_run_group_tests_name("http_payment_token", tests, setup, teardown);
}
