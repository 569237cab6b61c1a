/* test_budget.c: one time budget from nginx to MariaDB (issue 13, finding 4).
 *
 * A user's balance row is held by a background `SELECT ... FOR UPDATE` for longer than the
 * whole budget (REQUEST_TIMEOUT_SECONDS + 3, as in the finding), and then:
 *   - a charge without Idempotency-Key gets the worker's 503 with Retry-After after the
 *     server's lock wait, well before nginx's timeout; once the lock is gone and every
 *     transaction has ended, nothing was charged and no ledger entry written; the retry
 *     charges once;
 *   - the same for a payment (no money moved, the hold still HELD, the retry pays once);
 *   - with MariaDB stopped (SIGSTOP) while the charge's UPDATE waits for the lock, the worker's
 *     own read timeout ends the request: an answer before nginx's timeout, the abandoned
 *     transaction is not rerun, and after MariaDB resumes nothing was charged. A charge
 *     without Idempotency-Key is one CALL that commits inside the server (sql/006), so a
 *     connection lost during it leaves the outcome unknown to the worker: its answer is the
 *     500 that says so (check before repeating), not a 503;
 *   - a client that hangs up (curl --max-time 1): nginx waits for the worker and logs its
 *     real status (503), not 499, and nothing was charged.
 * Needs the stack directory (CR_STACK_DIR): root's mariadb client and mariadbd's pid. */
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_uuid.h"
#include "payment_fixture.h"

static const char *stack_dir;
static long long lock_wait_ms, read_timeout_ms, request_timeout_ms;

/* Holds user uid's row lock in a background session for REQUEST_TIMEOUT_SECONDS + 3 s (the
 * finding's 13 s), and returns once it does. */
static void hold_user_row(const char *uid)
{
    char hex[33];
    int n = 0;
    for (const char *p = uid; *p != '\0' && n < 32; p++)
        if (*p != '-')
            hex[n++] = *p;
    hex[n] = '\0';
    assert_int_equal(n, 32);
    assert_int_equal(cr_test_sh("mariadb --no-defaults --socket='%s/run/mysqld.sock' -uroot concert -e "
                        "\"START TRANSACTION; SELECT id FROM users WHERE uuid = UNHEX('%s') "
                        "FOR UPDATE; DO SLEEP(%lld); COMMIT\" >/dev/null 2>&1 &",
                        stack_dir, hex, request_timeout_ms / 1000 + 3),
                     0);
    long long t0 = cr_test_now_ms();
    while (cr_test_root_int("SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE info LIKE 'DO SLEEP(%'") < 1) {
        assert_true(cr_test_now_ms() - t0 < 10000);
        cr_test_sleep_ms(20);
    }
}

/* Ends the holding session (its transaction rolls back), then waits until no transaction is
 * left anywhere: whatever the request under test left running has committed or rolled back. */
static void release_and_settle(void)
{
    assert_int_equal(cr_test_sh("mariadb --no-defaults --socket='%s/run/mysqld.sock' -uroot -N -B -e "
                        "\"SELECT CONCAT('KILL ', id, ';') FROM information_schema.processlist "
                        "WHERE info LIKE 'DO SLEEP(%%'\" | mariadb --no-defaults "
                        "--socket='%s/run/mysqld.sock' -uroot >/dev/null 2>&1",
                        stack_dir, stack_dir),
                     0);
    long long t0 = cr_test_now_ms();
    while (cr_test_root_int("SELECT COUNT(*) FROM information_schema.innodb_trx") != 0 ||
           cr_test_root_int("SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE info LIKE 'DO SLEEP(%'") != 0) {
        assert_true(cr_test_now_ms() - t0 < 20000);
        cr_test_sleep_ms(50);
    }
}

static long long entries_of(const char *uid, const char *type)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(uid, &u), 0);
    struct cr_db_val p[] = {CR_DB_UUID(&u), CR_DB_STRZ(type)};
    return cr_test_db_int("SELECT COUNT(*) FROM balance_entries e JOIN users u "
                          "ON u.id = e.user_id WHERE u.uuid = ? AND e.type = ?",
                          p, 2);
}

static long charge(struct cr_test_res *r, const char *uid, long long amount, const char *rid)
{
    char path[128], body[64], h[128];
    const char *hs[] = {h, NULL};
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    snprintf(body, sizeof(body), "{\"amount\":%lld}", amount);
    snprintf(h, sizeof(h), "X-Request-Id: %s", rid != NULL ? rid : "budget-charge");
    return cr_test_req(r, "POST", path, body, hs);
}

/* A 503 SERVICE_UNAVAILABLE with Retry-After from the worker (not nginx's 504), that came
 * after at least min_ms and well before nginx's timeout. */
static void assert_worker_503(struct cr_test_res *r, long long took, long long min_ms)
{
    print_message("  answered %ld after %lld ms (nginx gives up after %lld ms)\n", r->status,
                  took, request_timeout_ms);
    cr_test_assert_error(r, 503, "SERVICE_UNAVAILABLE");
    char *ra = cr_test_header(r, "Retry-After");
    assert_non_null(ra);
    assert_true(atoi(ra) >= 1);
    free(ra);
    assert_true(took >= min_ms);
    assert_true(took < request_timeout_ms - 1000);
}

/* (a) A charge against a row locked past the whole budget. */
static void test_charge_lock_wait_is_503_and_charges_nothing(void **state)
{
    (void)state;
    struct cr_test_res r;
    char uid[37];
    cr_test_new_user(uid);
    assert_int_equal(charge(&r, uid, 1000, NULL), 200);
    cr_test_res_free(&r);

    hold_user_row(uid);
    long long t0 = cr_test_now_ms();
    charge(&r, uid, 500, "budget-a");
    long long took = cr_test_now_ms() - t0;
    release_and_settle();
    assert_worker_503(&r, took, lock_wait_ms - 300);
    cr_test_res_free(&r);

    assert_int_equal(fx_balance(uid), 1000);
    assert_int_equal(entries_of(uid, "CHARGE"), 1);
    /* The retry the 503 asked for charges exactly once. */
    assert_int_equal(charge(&r, uid, 500, NULL), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 1500);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(uid), 1500);
    assert_int_equal(entries_of(uid, "CHARGE"), 2);
}

/* (b) The same for a payment: the money, the ledger, the hold and the seat stay as they were. */
static void test_payment_lock_wait_is_503_and_pays_nothing(void **state)
{
    (void)state;
    struct fx_user u;
    struct cr_test_res r;
    char rid[37], st[16];
    assert_int_equal(fx_user_new(&u, 10000), 1);
    long long sched = fx_schedule(2);
    assert_int_equal(fx_hold(&u, sched, 1, rid, NULL), 201);
    const char *rids[] = {rid};

    hold_user_row(u.id);
    long long t0 = cr_test_now_ms();
    fx_pay(&r, &u, rids, 1, NULL);
    long long took = cr_test_now_ms() - t0;
    release_and_settle();
    assert_worker_503(&r, took, lock_wait_ms - 300);
    cr_test_res_free(&r);

    assert_int_equal(fx_balance(u.id), 10000);
    assert_int_equal(fx_payments(u.id), 0);
    assert_int_equal(fx_payment_entries(u.id), 0);
    assert_string_equal(fx_res_status(rid, st), "HELD");
    assert_string_equal(fx_seat_status(rid, st), "HELD");
    /* The retry, with the same token (a failed payment leaves it active), pays once. */
    assert_int_equal(fx_pay(&r, &u, rids, 1, NULL), 201);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(u.id), 9000);
    assert_int_equal(fx_payments(u.id), 1);
    assert_int_equal(fx_payment_entries(u.id), 1);
}

struct inflight {
    const char *uid, *rid;
    struct cr_test_res r;
    long long t0, t1;
    volatile int done;
};

static void *charge_thread(void *arg)
{
    struct inflight *f = arg;
    f->t0 = cr_test_now_ms();
    charge(&f->r, f->uid, 700, f->rid);
    f->t1 = cr_test_now_ms();
    f->done = 1;
    return NULL;
}

static pid_t mariadbd_pid(void)
{
    char path[512];
    long pid = 0;
    snprintf(path, sizeof(path), "%s/run/mysqld.pid", stack_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* 1 when log/name has a line holding both needles (within 10 s). */
static int logged(const char *name, const char *a, const char *b)
{
    for (long long end = cr_test_now_ms() + 10000; cr_test_now_ms() < end;) {
        if (cr_test_sh("grep -F '%s' '%s/log/%s' | grep -qF '%s'", a, stack_dir, name, b) == 0)
            return 1;
        cr_test_sleep_ms(10);
    }
    return 0;
}

/* (c) A stuck server: the worker's read timeout ends the request, nothing is rerun. */
static void test_read_timeout_never_reruns(void **state)
{
    (void)state;
    struct cr_test_res r;
    char uid[37], rid[64];
    cr_test_new_user(uid);
    assert_int_equal(charge(&r, uid, 1000, NULL), 200);
    cr_test_res_free(&r);
    snprintf(rid, sizeof(rid), "budget-rt-%lld", (long long)getpid());

    hold_user_row(uid);
    struct inflight f = {.uid = uid, .rid = rid};
    pthread_t th;
    pthread_create(&th, NULL, charge_thread, &f);
    /* Stop MariaDB while the charge's UPDATE waits for the row, before its lock wait ends. */
    long long t0 = cr_test_now_ms();
    while (cr_test_root_int("SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE info LIKE 'UPDATE users SET balance%'"
                    " OR info LIKE 'CALL cr_charge%'") < 1 &&
           cr_test_now_ms() - t0 < lock_wait_ms - 300)
        cr_test_sleep_ms(5);
    pid_t db = mariadbd_pid();
    assert_true(db > 0);
    assert_int_equal(kill(db, SIGSTOP), 0);
    long long stopped = cr_test_now_ms();
    while (!f.done && cr_test_now_ms() - stopped < request_timeout_ms + 5000)
        cr_test_sleep_ms(20);
    kill(db, SIGCONT); /* before any assert, so that a failure leaves a running stack */
    pthread_join(th, NULL);
    long long took = f.t1 - f.t0;
    release_and_settle();

    print_message("  MariaDB stopped %lld ms into the request\n", stopped - f.t0);
    assert_true(stopped - f.t0 < lock_wait_ms - 200); /* the server could not answer first */
    /* The CALL commits inside the server: lost during it, the outcome is unknown (500). */
    print_message("  answered %ld after %lld ms (nginx gives up after %lld ms)\n", f.r.status,
                  took, request_timeout_ms);
    cr_test_assert_error(&f.r, 500, "INTERNAL_ERROR");
    assert_true(took >= read_timeout_ms - 300);
    assert_true(took < request_timeout_ms - 1000);
    cr_test_res_free(&f.r);
    /* It was our read timeout that ended it, and the transaction was not run again. */
    assert_true(logged("wallet.log", rid, "our read timeout"));
    assert_true(logged("wallet.log", rid, "not rerun"));
    assert_int_equal(fx_balance(uid), 1000);
    assert_int_equal(entries_of(uid, "CHARGE"), 1);
    assert_int_equal(charge(&r, uid, 700, NULL), 200);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(uid), 1700);
    assert_int_equal(entries_of(uid, "CHARGE"), 2);
}

/* The status nginx logged for request id rid (-1 when it logged none within 3 s). */
static long access_status(const char *rid)
{
    char cmd[1024], line[4096];
    long status = -1;
    for (int i = 0; i < 300 && status < 0; i++) {
        snprintf(cmd, sizeof(cmd), "grep -F '\"requestId\":\"%s\"' '%s/log/nginx-access.log'",
                 rid, stack_dir);
        FILE *p = popen(cmd, "r");
        if (p != NULL && fgets(line, sizeof(line), p) != NULL) {
            json_object *o = json_tokener_parse(line), *v;
            if (o != NULL && json_object_object_get_ex(o, "status", &v))
                status = json_object_get_int(v);
            json_object_put(o);
        }
        if (p != NULL)
            pclose(p);
        if (status < 0)
            cr_test_sleep_ms(10);
    }
    return status;
}

/* (d) A client that hangs up after 1 s: the worker still answers, nginx logs that answer. */
static void test_client_abort_logs_the_real_status(void **state)
{
    (void)state;
    struct cr_test_res r;
    char uid[37], rid[64];
    cr_test_new_user(uid);
    assert_int_equal(charge(&r, uid, 1000, NULL), 200);
    cr_test_res_free(&r);
    snprintf(rid, sizeof(rid), "budget-abort-%lld", (long long)getpid());

    hold_user_row(uid);
    long long t0 = cr_test_now_ms();
    /* curl exits 28 (timeout) when it hangs up. */
    int rc = cr_test_sh("curl -s -o /dev/null --max-time 1 -X POST -H 'Content-Type: application/json' "
                "-H 'X-Request-Id: %s' -d '{\"amount\":300}' '%s/api/v1/users/%s/balance/charge'",
                rid, getenv("CR_BASE_URL"), uid);
    assert_int_equal(rc, 28);
    assert_true(cr_test_now_ms() - t0 < lock_wait_ms);
    long status = access_status(rid);
    release_and_settle();
    print_message("  a client that hung up after 1 s: nginx logged %ld\n", status);
    assert_int_equal(status, 503);
    assert_int_equal(fx_balance(uid), 1000);
    assert_int_equal(entries_of(uid, "CHARGE"), 1);
}

int main(void)
{
    fx_init("test_budget");
    stack_dir = getenv("CR_STACK_DIR");
    if (stack_dir == NULL) {
        fprintf(stderr, "CR_STACK_DIR is not set: run through tests/run-with-stack.sh\n");
        return 1;
    }
    lock_wait_ms = cr_config_int("DB_LOCK_WAIT_SECONDS") * 1000;
    read_timeout_ms = cr_config_int("DB_READ_TIMEOUT_SECONDS") * 1000;
    request_timeout_ms = cr_config_int("REQUEST_TIMEOUT_SECONDS") * 1000;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charge_lock_wait_is_503_and_charges_nothing),
        cmocka_unit_test(test_payment_lock_wait_is_503_and_pays_nothing),
        cmocka_unit_test(test_read_timeout_never_reruns),
        cmocka_unit_test(test_client_abort_logs_the_real_status),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fx_cleanup();
    return rc;
}
