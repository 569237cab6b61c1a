/* test_recovery.c: supervised workers and recovery under a steady client (issue 8).
 *
 * Client threads run for the whole program and record every answer with its start and end
 * time: two readers (GET /api/v1/concerts, the seat map of a schedule with an active token,
 * GET /healthz) and one queue client (POST /api/v1/queue/tokens for a real user, which needs
 * MariaDB and Redis). Each test then does one thing to the stack and judges the answers that
 * overlap it:
 *   - kill -9 of a concert worker: multiwatch starts a replacement within 2 s, and no more
 *     requests fail than the one the killed worker may have been serving;
 *   - Redis, then MariaDB, stopped for 5 s: every answer is 2xx or 503 SERVICE_UNAVAILABLE
 *     with Retry-After, none takes over 2 s, the queue route is 503 while the part is down,
 *     and every kind of request answers 2xx again within 2 s of the restart;
 *   - cr_groups_reload (what scripts/reload does) with a new WORKERS_PER_GROUP and back, the
 *     first while a request is held in flight by a table lock: not one request fails (that one
 *     included: the old generation finishes it), and the new worker count is applied;
 *   - SIGTERM to the concert workers while a request is held up by a table lock: the request
 *     still gets its 200 and those workers exit (multiwatch starts new ones).
 * Needs the stack directory (CR_STACK_DIR) and the source tree (CR_SRC_DIR, for scripts/lib.sh). */
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
#include "cr_test.h"

enum kind { K_CONCERTS, K_SEATS, K_HEALTH, K_QUEUE, K_COUNT };
static const char *const kind_name[K_COUNT] = {"concerts", "seats", "healthz", "queue-join"};

struct entry {
    long long t0, t1; /* monotonic ms */
    enum kind kind;
    long status;
    int retry_after;    /* a Retry-After header came with it */
    int code_ok;        /* a 503's body carries SERVICE_UNAVAILABLE */
};

#define MAX_ENTRIES 400000
static struct entry *entries;
static int nentries;
static pthread_mutex_t entries_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop_clients;
static pthread_t clients[3];

static const char *stack_dir, *src_dir, *bin_dir;
static char seats_path[128];
static char seats_auth[400];
static char queue_body[128];
static int workers_per_group = 2;

static int is_2xx(long s)
{
    return s >= 200 && s < 300;
}

/* --- the steady clients ------------------------------------------------------------- */

static void record(long long t0, enum kind k, struct cr_test_res *r)
{
    struct entry e = {t0, cr_test_now_ms(), k, r->status, 0, 0};
    char *ra = cr_test_header(r, "Retry-After");
    e.retry_after = ra != NULL && atoi(ra) > 0;
    free(ra);
    e.code_ok = strcmp(cr_test_error_code(r), "SERVICE_UNAVAILABLE") == 0;
    pthread_mutex_lock(&entries_lock);
    if (nentries < MAX_ENTRIES)
        entries[nentries++] = e;
    pthread_mutex_unlock(&entries_lock);
}

static void one(enum kind k)
{
    struct cr_test_res r;
    const char *auth[] = {seats_auth, NULL};
    long long t0 = cr_test_now_ms();
    switch (k) {
    case K_CONCERTS: cr_test_req(&r, "GET", "/api/v1/concerts", NULL, NULL); break;
    case K_SEATS: cr_test_req(&r, "GET", seats_path, NULL, auth); break;
    case K_HEALTH: cr_test_req(&r, "GET", "/healthz", NULL, NULL); break;
    default: cr_test_req(&r, "POST", "/api/v1/queue/tokens", queue_body, NULL); break;
    }
    record(t0, k, &r);
    cr_test_res_free(&r);
}

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; !stop_clients; i++) {
        one((enum kind)(i % 3));
        cr_test_sleep_ms(5);
    }
    return NULL;
}

static void *queue_client(void *arg)
{
    (void)arg;
    while (!stop_clients) {
        one(K_QUEUE);
        cr_test_sleep_ms(10);
    }
    return NULL;
}

/* --- the stack ---------------------------------------------------------------------- */

/* A function of scripts/lib.sh on this stack, e.g. lib("cr_mariadb_start %s", stack_dir). */
static int lib(const char *fmt, const char *arg1, const char *arg2)
{
    char call[1024];
    snprintf(call, sizeof(call), fmt, arg1, arg2);
    return cr_test_sh("bash -c 'source \"%s/scripts/lib.sh\" && %s' >/dev/null 2>&1", src_dir, call);
}

static pid_t supervisor(const char *group)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/run/%s.pid", stack_dir, group);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* The worker pids of a group (children of its multiwatch); returns how many. */
static int workers(const char *group, pid_t *out, int max)
{
    char cmd[128];
    int n = 0;
    long p;
    snprintf(cmd, sizeof(cmd), "pgrep -P %d", (int)supervisor(group));
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return 0;
    while (n < max && fscanf(f, "%ld", &p) == 1)
        out[n++] = (pid_t)p;
    pclose(f);
    return n;
}

static int contains(const pid_t *set, int n, pid_t p)
{
    for (int i = 0; i < n; i++)
        if (set[i] == p)
            return 1;
    return 0;
}

/* --- judging the recorded answers --------------------------------------------------- */

/* Snapshot of the answers so far (the clients keep appending). */
static int snapshot(void)
{
    pthread_mutex_lock(&entries_lock);
    int n = nentries;
    pthread_mutex_unlock(&entries_lock);
    return n;
}

/* Answers overlapping [from, to] that are not 2xx. */
static int failures(long long from, long long to, int print)
{
    int n = snapshot(), bad = 0;
    for (int i = 0; i < n; i++) {
        struct entry *e = &entries[i];
        if (e->t1 < from || e->t0 > to || is_2xx(e->status))
            continue;
        bad++;
        if (print)
            print_message("  failed: %s -> %ld after %lld ms (at +%lld ms)\n",
                          kind_name[e->kind], e->status, e->t1 - e->t0, e->t0 - from);
    }
    return bad;
}

/* An outage of one dependency, from down (stop issued) to up (running again): every answer
 * overlapping it until up + 2 s is 2xx or a proper 503 within 2 s; the queue route (when Redis
 * is down) or the concert reads (when MariaDB is) are 503 while it is down; and after up, each
 * kind answers 2xx within 2 s and keeps doing so. Returns the slowest kind's recovery time in ms. */
static long long judge_outage(const char *what, long long down, long long restart, long long up,
                              long long end, int db_down)
{
    int n = snapshot(), bad = 0, slow = 0, seen503[K_COUNT] = {0}, while_down_2xx[K_COUNT] = {0};
    long long worst_latency = 0, first_ok[K_COUNT], worst = 0;
    for (int k = 0; k < K_COUNT; k++)
        first_ok[k] = -1;
    for (int i = 0; i < n; i++) {
        struct entry *e = &entries[i];
        if (e->t1 < down || e->t0 > end)
            continue;
        long long lat = e->t1 - e->t0;
        if (lat > worst_latency)
            worst_latency = lat;
        if (lat > 2000) {
            slow++;
            print_message("  %s: %s took %lld ms\n", what, kind_name[e->kind], lat);
        }
        if (e->status == 503) {
            if (!e->retry_after || !e->code_ok) {
                bad++;
                print_message("  %s: %s 503 without Retry-After or SERVICE_UNAVAILABLE\n", what,
                              kind_name[e->kind]);
            }
            if (e->t0 > down + 300 && e->t1 < restart)
                seen503[e->kind]++;
        } else if (!is_2xx(e->status)) {
            bad++;
            print_message("  %s: %s answered %ld at +%lld ms\n", what, kind_name[e->kind],
                          e->status, e->t0 - down);
        } else if (e->t0 > down + 300 && e->t1 < restart) {
            while_down_2xx[e->kind]++;
        }
        if (is_2xx(e->status) && e->t0 >= up && first_ok[e->kind] < 0)
            first_ok[e->kind] = e->t1;
        if (!is_2xx(e->status) && e->t0 >= up + 2000) {
            bad++;
            print_message("  %s: %s still %ld at +%lld ms after the restart\n", what,
                          kind_name[e->kind], e->status, e->t0 - up);
        }
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (first_ok[k] < 0) {
            print_message("  %s: no 2xx for %s after the restart\n", what, kind_name[k]);
            bad++;
            continue;
        }
        long long t = first_ok[k] - up;
        if (t > worst)
            worst = t;
    }
    print_message("  %s: stopped %lld ms, 503s while down: queue-join %d, concerts %d, healthz "
                  "%d; slowest answer %lld ms; 2xx again %lld ms after it was back (%lld ms "
                  "after the restart command)\n",
                  what, restart - down, seen503[K_QUEUE], seen503[K_CONCERTS], seen503[K_HEALTH],
                  worst_latency, worst, worst + (up - restart));
    assert_int_equal(bad, 0);
    assert_int_equal(slow, 0);
    /* The dependency really was down for the routes that need it. */
    assert_true(seen503[K_HEALTH] > 0);
    if (db_down) {
        assert_true(seen503[K_CONCERTS] > 0);
        assert_int_equal(while_down_2xx[K_CONCERTS], 0);
        /* The queue join needs no MariaDB for a user the line already knows ({q}:known,
         * cr_queue.c), so while MariaDB is down it may answer 2xx as well as 503. */
    } else {
        assert_true(seen503[K_QUEUE] > 0);
        assert_int_equal(while_down_2xx[K_QUEUE], 0);
        assert_int_equal(seen503[K_CONCERTS], 0); /* the catalogue needs no Redis */
    }
    assert_true(worst <= 2000);
    return worst;
}

/* --- setup ---------------------------------------------------------------------------- */

static int read_workers_conf(void)
{
    char path[512], line[256];
    int n = 2;
    snprintf(path, sizeof(path), "%s/concert.conf", stack_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return n;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "WORKERS_PER_GROUP=", 18) == 0)
            n = atoi(line + 18);
    fclose(f);
    return n > 0 ? n : 2;
}

static int setup(void **state)
{
    (void)state;
    struct cr_test_res r;
    char uid[37], uid2[37], body[128];
    stack_dir = getenv("CR_STACK_DIR");
    src_dir = getenv("CR_SRC_DIR");
    bin_dir = getenv("CR_BIN_DIR");
    if (stack_dir == NULL || src_dir == NULL || bin_dir == NULL) {
        fprintf(stderr, "CR_STACK_DIR, CR_SRC_DIR and CR_BIN_DIR must be set (tests/run-with-stack.sh)\n");
        return -1;
    }
    workers_per_group = read_workers_conf();
    entries = calloc(MAX_ENTRIES, sizeof(*entries));

    /* A reader with an active token, for the seat map of the first demo schedule. */
    cr_test_new_user(uid);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", uid);
    if (cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL) != 201 ||
        strcmp(cr_test_str(&r, "status"), "ACTIVE") != 0) {
        fprintf(stderr, "no active token: %ld %s\n", r.status, r.body);
        return -1;
    }
    snprintf(seats_auth, sizeof(seats_auth), "Authorization: Bearer %s", cr_test_str(&r, "token"));
    cr_test_res_free(&r);
    const char *auth[] = {seats_auth, NULL};
    cr_test_req(&r, "GET", "/api/v1/concerts", NULL, NULL);
    json_object *list, *first, *id;
    if (!json_object_object_get_ex(r.json, "concerts", &list) ||
        (first = json_object_array_get_idx(list, 0)) == NULL ||
        !json_object_object_get_ex(first, "concertId", &id)) {
        fprintf(stderr, "no concert: %s\n", r.body);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/concerts/%lld/schedules", (long long)json_object_get_int64(id));
    cr_test_res_free(&r);
    cr_test_req(&r, "GET", path, NULL, auth);
    if (!json_object_object_get_ex(r.json, "schedules", &list) ||
        (first = json_object_array_get_idx(list, 0)) == NULL ||
        !json_object_object_get_ex(first, "scheduleId", &id)) {
        fprintf(stderr, "no schedule: %s\n", r.body);
        return -1;
    }
    snprintf(seats_path, sizeof(seats_path), "/api/v1/schedules/%lld/seats", (long long)json_object_get_int64(id));
    cr_test_res_free(&r);
    if (cr_test_req(&r, "GET", seats_path, NULL, auth) != 200) {
        fprintf(stderr, "seat map: %ld %s\n", r.status, r.body);
        return -1;
    }
    cr_test_res_free(&r);

    /* The queue client joins the line again and again as another user (200: same token). */
    cr_test_new_user(uid2);
    snprintf(queue_body, sizeof(queue_body), "{\"userId\":\"%s\"}", uid2);

    stop_clients = 0;
    pthread_create(&clients[0], NULL, reader, NULL);
    pthread_create(&clients[1], NULL, reader, NULL);
    pthread_create(&clients[2], NULL, queue_client, NULL);
    cr_test_sleep_ms(500);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_clients = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(clients[i], NULL);
    int counts[K_COUNT] = {0};
    for (int i = 0; i < nentries; i++)
        counts[entries[i].kind]++;
    print_message("steady client: %d answers (concerts %d, seats %d, healthz %d, queue-join %d)\n",
                  nentries, counts[K_CONCERTS], counts[K_SEATS], counts[K_HEALTH], counts[K_QUEUE]);
    free(entries);
    return 0;
}

/* --- the tests ---------------------------------------------------------------------- */

static void test_baseline_all_ok(void **state)
{
    (void)state;
    long long t = cr_test_now_ms();
    cr_test_sleep_ms(300);
    assert_int_equal(failures(t - 1000, cr_test_now_ms(), 1), 0);
}

static void test_kill_worker_comes_back(void **state)
{
    (void)state;
    pid_t before[16], after[16];
    int n = workers("concert", before, 16);
    assert_int_equal(n, workers_per_group);
    long long t_kill = cr_test_now_ms();
    assert_int_equal(kill(before[0], SIGKILL), 0);
    long long t_back = -1;
    while (cr_test_now_ms() - t_kill < 5000) {
        int m = workers("concert", after, 16);
        int fresh = 0;
        for (int i = 0; i < m; i++)
            if (!contains(before, n, after[i]))
                fresh++;
        if (m == n && fresh == 1 && !cr_test_pid_alive(before[0])) {
            t_back = cr_test_now_ms();
            break;
        }
        cr_test_sleep_ms(20);
    }
    cr_test_sleep_ms(1000);
    int bad = failures(t_kill - 50, cr_test_now_ms(), 1);
    print_message("  kill -9 of worker %d: a new one ran after %lld ms; %d request(s) failed "
                  "(one worker serves at most one at a time)\n",
                  (int)before[0], t_back - t_kill, bad);
    assert_true(t_back > 0);
    assert_true(t_back - t_kill <= 2000);
    assert_true(bad <= 1);
}

static void test_redis_down_5s(void **state)
{
    (void)state;
    long long down = cr_test_now_ms();
    assert_int_equal(cr_test_sh("redis-cli -s %s/run/redis.sock shutdown >/dev/null 2>&1; "
                        "! redis-cli -s %s/run/redis.sock ping >/dev/null 2>&1",
                        stack_dir, stack_dir), 0);
    cr_test_sleep_ms(5000);
    long long restart = cr_test_now_ms();
    assert_int_equal(cr_test_redis_start(), 0);
    long long up = -1;
    while (cr_test_now_ms() - restart < 10000) {
        if (cr_test_sh("redis-cli -s %s/run/redis.sock ping 2>/dev/null | grep -q PONG", stack_dir) == 0) {
            up = cr_test_now_ms();
            break;
        }
        cr_test_sleep_ms(20);
    }
    assert_true(up > 0);
    cr_test_sleep_ms(2500);
    judge_outage("redis", down, restart, up, cr_test_now_ms(), 0);
}

static void test_mariadb_down_5s(void **state)
{
    (void)state;
    long long down = cr_test_now_ms();
    assert_int_equal(cr_test_sh("mariadb-admin --no-defaults --socket=%s/run/mysqld.sock -uroot shutdown",
                        stack_dir), 0);
    cr_test_sleep_ms(5000);
    long long restart = cr_test_now_ms();
    /* Returns once the server answers a ping (and its start-up SQL ran). */
    assert_int_equal(lib("cr_mariadb_start %s", stack_dir, ""), 0);
    long long up = cr_test_now_ms();
    cr_test_sleep_ms(2500);
    judge_outage("mariadb", down, restart, up, cr_test_now_ms(), 1);
}

/* A GET /api/v1/concerts on its own thread, recorded in the entry given. */
static void *slow_request(void *arg)
{
    struct entry *e = arg;
    struct cr_test_res r;
    e->t0 = cr_test_now_ms();
    e->status = cr_test_req(&r, "GET", "/api/v1/concerts", NULL, NULL);
    e->t1 = cr_test_now_ms();
    cr_test_res_free(&r);
    return NULL;
}

/* How many sessions of the stack's MariaDB run a statement whose text starts with prefix or
 * wait in the given state (root over the socket: the service's user sees only its own). */
static int sessions(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE %s",
             where);
    return (int)cr_test_root_int(sql);
}

static int lock_held(void *ctx)
{
    (void)ctx;
    return sessions("INFO LIKE 'DO SLEEP(%'") > 0;
}

/* Holds a write lock on the concerts table for the given seconds (in the background), so that
 * every concert read waits: a request that stays in flight as long as we like (under
 * DB_LOCK_WAIT_SECONDS, README "Time budget": a read that waits longer is a 503, so this
 * program's .conf raises the budget). Returns once the lock is held (the client may take a
 * while to start on a loaded machine). */
static void lock_concerts(int seconds)
{
    assert_true(seconds * 1000 < cr_config_int("DB_LOCK_WAIT_SECONDS") * 1000 - 500);
    assert_int_equal(cr_test_sh("mariadb --no-defaults --socket=%s/run/mysqld.sock -uroot concert -e "
                        "'LOCK TABLES concerts WRITE; DO SLEEP(%d); UNLOCK TABLES' >/dev/null 2>&1 &",
                        stack_dir, seconds), 0);
    assert_true(cr_test_wait_for(lock_held, NULL, 20000));
}

/* Starts slow_request on its own thread; returns once it has started, plus a moment for its
 * request to reach nginx (a loopback connect; the lock then holds it for seconds). */
static int slow_started(void *ctx)
{
    return ((volatile struct entry *)ctx)->t0 != 0;
}
static void start_slow_request(pthread_t *th, struct entry *e)
{
    pthread_create(th, NULL, slow_request, e);
    assert_true(cr_test_wait_for(slow_started, e, 20000));
    cr_test_sleep_ms(200);
}

static void set_workers(int n)
{
    assert_int_equal(cr_test_sh("sed -i 's/^WORKERS_PER_GROUP=.*/WORKERS_PER_GROUP=%d/' %s/concert.conf",
                        n, stack_dir), 0);
}

static void test_reload_drops_nothing(void **state)
{
    (void)state;
    pid_t old_sup = supervisor("concert"), old_workers[16], w[16];
    int n_old = workers("concert", old_workers, 16);
    /* A new configuration (one more worker per group), then back: both socket slots. */
    int counts[2] = {workers_per_group + 1, workers_per_group};
    long long t0 = cr_test_now_ms();
    struct entry slow = {0};
    pthread_t th;
    for (int round = 0; round < 2; round++) {
        set_workers(counts[round]);
        if (round == 0) {
            /* A request the old generation is still serving when it is told to stop. */
            lock_concerts(4);
            start_slow_request(&th, &slow);
        }
        long long t = cr_test_now_ms();
        assert_int_equal(lib("cr_groups_reload %s %s", stack_dir, bin_dir), 0);
        long long t_end = cr_test_now_ms();
        print_message("  reload %d (WORKERS_PER_GROUP=%d) took %lld ms\n", round + 1,
                      counts[round], t_end - t);
        if (round == 0) {
            pthread_join(th, NULL);
            print_message("  a request in flight through the reload: %ld after %lld ms, the "
                          "reload ended %lld ms after it\n",
                          slow.status, slow.t1 - slow.t0, t_end - slow.t1);
            assert_int_equal(slow.status, 200);
            assert_true(slow.t1 > t);          /* it was still running when the reload began */
            assert_true(t_end >= slow.t1 - 100); /* the old group waited for it */
        }
        assert_int_equal(workers("concert", w, 16), counts[round]);
        assert_int_equal(workers("payment", w, 16), counts[round]);
        cr_test_sleep_ms(300);
    }
    assert_true(supervisor("concert") != old_sup);
    assert_false(cr_test_pid_alive(old_sup));
    for (int i = 0; i < n_old; i++)
        assert_false(cr_test_pid_alive(old_workers[i]));
    int bad = failures(t0, cr_test_now_ms(), 1);
    int n = snapshot(), during = 0;
    for (int i = 0; i < n; i++)
        if (entries[i].t1 >= t0)
            during++;
    print_message("  two reloads under the steady client: %d answers, %d failed\n", during, bad);
    assert_int_equal(bad, 0);
}

/* A GET /api/v1/concerts held up by a table lock (LOCK TABLES ... WRITE for 1.5 s) gets its 200
 * although its worker receives SIGTERM meanwhile; the worker then exits and is replaced. */
static void test_sigterm_finishes_current_request(void **state)
{
    (void)state;
    pid_t before[16], after[16];
    int n = workers("concert", before, 16);
    assert_true(n > 0);
    long long t0 = cr_test_now_ms();
    lock_concerts(3);
    struct entry slow = {0};
    pthread_t t;
    start_slow_request(&t, &slow);
    for (int i = 0; i < n; i++)
        kill(before[i], SIGTERM);
    long long t_term = cr_test_now_ms();
    /* The workers are busy (the lock holds every concert read), so they are still there. */
    cr_test_sleep_ms(200);
    int still = 0;
    for (int i = 0; i < n; i++)
        still += cr_test_pid_alive(before[i]);
    pthread_join(t, NULL);
    long long gone = -1;
    while (cr_test_now_ms() - t_term < 15000) {
        int left = 0;
        for (int i = 0; i < n; i++)
            left += cr_test_pid_alive(before[i]);
        if (left == 0) {
            gone = cr_test_now_ms();
            break;
        }
        cr_test_sleep_ms(20);
    }
    /* multiwatch starts the replacements; wait (with a deadline) until all n are new ones. */
    int m = 0, fresh = 0;
    for (long long end = cr_test_now_ms() + 10000;;) {
        m = workers("concert", after, 16);
        fresh = 0;
        for (int i = 0; i < m; i++)
            fresh += !contains(before, n, after[i]);
        if ((m == n && fresh == n) || cr_test_now_ms() > end)
            break;
        cr_test_sleep_ms(50);
    }
    int bad = failures(t0, cr_test_now_ms(), 1);
    print_message("  SIGTERM with a request held %lld ms after it: answered %ld after %lld ms; "
                  "%d of %d workers still busy 200 ms after TERM, all gone %lld ms after TERM; "
                  "%d new workers; %d failed requests\n",
                  t_term - slow.t0, slow.status, slow.t1 - slow.t0, still, n, gone - t_term, fresh,
                  bad);
    assert_int_equal(slow.status, 200);
    assert_true(slow.t1 > t_term);
    assert_true(still > 0);
    assert_true(gone > 0);
    assert_int_equal(m, n);
    assert_int_equal(fresh, n);
    assert_int_equal(bad, 0);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_all_ok),
        cmocka_unit_test(test_kill_worker_comes_back),
        cmocka_unit_test(test_redis_down_5s),
        cmocka_unit_test(test_mariadb_down_5s),
        cmocka_unit_test(test_sigterm_finishes_current_request),
        cmocka_unit_test(test_reload_drops_nothing),
    };
    return cmocka_run_group_tests_name("http_recovery", tests, setup, teardown);
}
