/* test_hostile.c: nginx's limits and hostile clients (issue 13): per-address rate limits per
 * kind of request, the connection limit, client timeouts, disconnects, 10,000 idle connections,
 * header size limits and the requests nginx refuses (431, 501, 505, HTTP/0.9). Each answer is
 * the contract's JSON or a close without an answer; afterwards no FastCGI worker has died and
 * the next request is a 200.
 * Runs with tests/http/test_hostile.conf: the default limits (the test stack raises them for
 * the other programs). Needs CR_STACK_DIR (worker pids, the rendered nginx.conf) and CR_SRC_DIR. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_test.h"
#include "cr_time.h"

static const char *const limit_keys[] = {
    "RATE_LIMIT_TOKENS", "RATE_BURST_TOKENS", "RATE_LIMIT_USERS",    "RATE_BURST_USERS",
    "RATE_LIMIT_CHARGES", "RATE_BURST_CHARGES", "RATE_LIMIT_HOLDS",  "RATE_BURST_HOLDS",
    "RATE_LIMIT_PAYMENTS", "RATE_BURST_PAYMENTS", "RATE_LIMIT_API",  "RATE_BURST_API",
    "RATE_LIMIT_HEALTH", "RATE_BURST_HEALTH", "CONN_LIMIT",          "CLIENT_TIMEOUT_SECONDS",
    "KEEPALIVE_TIMEOUT_SECONDS"};
#define NLIMITS (sizeof(limit_keys) / sizeof(limit_keys[0]))
static const char *const groups[] = {"queue", "concert", "reservation", "wallet", "payment"};

static int http_port;
static const char *stack_dir;

/* ---- raw sockets ------------------------------------------------------------------------- */

static int raw_connect(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* What the server did with a connection: its bytes until it closed (EOF or reset) or until
 * timeout_ms passed. */
struct raw_ans {
    char buf[8192];
    size_t len;
    int closed;        /* 1: EOF or reset seen */
    long long waited;  /* ms until closed */
};

static void raw_read(int fd, int timeout_ms, struct raw_ans *a)
{
    long long t0 = cr_time_mono_ms(), end = t0 + timeout_ms;
    memset(a, 0, sizeof(*a));
    for (;;) {
        long long left = end - cr_time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0) {
            a->closed = 1;
            break;
        }
        size_t room = sizeof(a->buf) - 1 - a->len, take = (size_t)n < room ? (size_t)n : room;
        memcpy(a->buf + a->len, tmp, take);
        a->len += take;
    }
    a->buf[a->len] = '\0';
    a->waited = cr_time_mono_ms() - t0;
}

/* One request on a new connection; the answer until the server closes (within 10 s). */
static void raw_exchange(const char *req, size_t len, struct raw_ans *a)
{
    int fd = raw_connect();
    raw_send(fd, req, len);
    raw_read(fd, 10000, a);
    close(fd);
}

static long raw_status(const struct raw_ans *a)
{
    long st = 0;
    if (sscanf(a->buf, "HTTP/1.1 %ld", &st) != 1)
        return 0;
    return st;
}

/* The answer is status with the contract's error JSON (code, message, requestId equal to the
 * X-Request-Id header) and a JSON Content-Type. */
static void assert_raw_error(const struct raw_ans *a, long status, const char *code)
{
    if (raw_status(a) != status)
        print_error("want %ld %s, got: %s\n", status, code, a->buf);
    assert_int_equal(raw_status(a), status);
    const char *body = strstr(a->buf, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strcasestr(a->buf, "\r\nContent-Type: application/json"));
    json_object *j = json_tokener_parse(body + 4), *e, *v;
    assert_non_null(j);
    assert_true(json_object_object_get_ex(j, "error", &e));
    assert_true(json_object_object_get_ex(e, "code", &v));
    assert_string_equal(json_object_get_string(v), code);
    assert_true(json_object_object_get_ex(e, "message", &v));
    assert_true(json_object_object_get_ex(e, "requestId", &v));
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "\r\nX-Request-Id: %s\r\n", json_object_get_string(v));
    assert_non_null(strstr(a->buf, hdr));
    json_object_put(j);
}

/* ---- the stack stays whole ------------------------------------------------------------------ */

/* The worker pids of every group ("queue:12 13;concert:..."), from run/<group>.pid's children. */
static void workers_snapshot(char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        char path[512], pid[32] = "", kids[256] = "";
        snprintf(path, sizeof(path), "%s/run/%s.pid", stack_dir, groups[g]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(pid, sizeof(pid), f));
        fclose(f);
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(path, sizeof(path), "/proc/%s/task/%s/children", pid, pid);
        f = fopen(path, "r");
        assert_non_null(f);
        if (fgets(kids, sizeof(kids), f) == NULL)
            kids[0] = '\0';
        fclose(f);
        assert_true(strlen(kids) > 0);
        off += (size_t)snprintf(out + off, cap - off, "%s:%s;", groups[g], kids);
        assert_true(off < cap);
    }
}

/* No worker died since before (its snapshot), and a normal request is a 200 within 2 s
 * (polled: a limit this test filled may take a moment to drain). */
static void assert_stack_whole(const char *before)
{
    char now[2048];
    workers_snapshot(now, sizeof(now));
    assert_string_equal(now, before);
    long long end = cr_time_mono_ms() + 2000;
    long st;
    do {
        struct cr_test_res r;
        st = cr_test_req(&r, "GET", "/api/v1/concerts", NULL, NULL);
        cr_test_res_free(&r);
    } while (st != 200 && cr_time_mono_ms() < end && usleep(50000) == 0);
    assert_int_equal(st, 200);
}

/* ---- rate limits --------------------------------------------------------------------------- */

/* The limits in force are the defaults: this program's .conf, scripts/lib.sh and cr_config
 * agree, and the rendered nginx.conf carries them. */
static void test_limits_are_the_defaults(void **state)
{
    char err[256], conf[NLIMITS][32];
    for (size_t i = 0; i < NLIMITS; i++)
        snprintf(conf[i], sizeof(conf[i]), "%s", cr_config_get(limit_keys[i]));
    assert_int_equal(cr_config_load("/dev/null", err, sizeof(err)), 0);
    for (size_t i = 0; i < NLIMITS; i++)
        assert_string_equal(conf[i], cr_config_get(limit_keys[i]));
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), 0);

    /* lib.sh's own defaults, rendered for an empty concert.conf. */
    char cmd[1024], line[256];
    snprintf(cmd, sizeof(cmd),
             "env -i bash -c 'source \"$0\"/scripts/lib.sh && cr__nginx_limits /dev/null"
             " && printf \"%%s\\n\" \"${CR_SED[@]}\"' '%s'",
             getenv("CR_SRC_DIR"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t seen = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        char key[64], val[32];
        if (sscanf(line, "s|@%63[A-Z_]@|%31[0-9]|g", key, val) != 2)
            continue;
        assert_string_equal(val, cr_config_get(key));
        seen++;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(seen, NLIMITS);

    /* The stack's nginx.conf has the token zone's rate and the connection limit. */
    char path[512], want[128], *text = calloc(1, 1 << 16);
    snprintf(path, sizeof(path), "%s/nginx/nginx.conf", stack_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_true(fread(text, 1, (1 << 16) - 1, f) > 0);
    fclose(f);
    snprintf(want, sizeof(want), "zone=cr_tokens:10m   rate=%sr/s",
             cr_config_get("RATE_LIMIT_TOKENS"));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want), "limit_conn cr_conn %s;", cr_config_get("CONN_LIMIT"));
    assert_non_null(strstr(text, want));
    free(text);
}

struct tokens {
    int mix; /* every 8th request a GET of the same path, every 8th + 1 a user creation */
    char uid[64][37];
    long status[400];
    char *retry_after[400];
    char code[400][32];
};

static void token_one(int i, void *ctx)
{
    struct tokens *t = ctx;
    char body[128];
    struct cr_test_res r;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", t->uid[i % 64]);
    if (t->mix && i % 8 == 0)
        t->status[i] = cr_test_req(&r, "GET", "/api/v1/queue/tokens", NULL, NULL);
    else if (t->mix && i % 8 == 1)
        t->status[i] = cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL);
    else
        t->status[i] = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    t->retry_after[i] = cr_test_header(&r, "Retry-After");
    snprintf(t->code[i], sizeof(t->code[i]), "%s", cr_test_error_code(&r));
    cr_test_res_free(&r);
}

/* 50 concurrent token requests from one address, within the default burst: all pass. Runs
 * first, on a token zone nobody used for a while. */
static void test_fifty_concurrent_pass(void **state)
{
    struct tokens *t = calloc(1, sizeof(*t));
    char before[2048];
    workers_snapshot(before, sizeof(before));
    assert_true(cr_config_int("RATE_BURST_TOKENS") >= 50);
    for (int i = 0; i < 50; i++)
        cr_test_new_user(t->uid[i]);
    cr_test_parallel(50, 50, token_one, t);
    for (int i = 0; i < 50; i++) {
        if (t->status[i] != 201)
            print_error("request %d: %ld %s\n", i, t->status[i], t->code[i]);
        assert_int_equal(t->status[i], 201);
        free(t->retry_after[i]);
    }
    free(t);
    assert_stack_whole(before);
}

/* Token requests from 50 threads at full speed: some get 429 TOO_MANY_REQUESTS with
 * Retry-After, and no more pass than the burst plus the rate over the time taken. Mixed in,
 * while they are refused: GETs of the same path (not counted by the POST zone: 405 from the
 * application) and user creations (another kind, another zone: 201). */
static void test_token_flood_gets_429(void **state)
{
    enum { ROUND = 400 };
    char before[2048], uid[37];
    workers_snapshot(before, sizeof(before));
    cr_test_new_user(uid);
    long long t0 = cr_time_mono_ms();
    int sent = 0, limited = 0, passed = 0;
    while (limited == 0 && cr_time_mono_ms() - t0 < 20000) {
        /* 50 user creations a round: within that zone's burst. */
        struct tokens *t = calloc(1, sizeof(*t));
        t->mix = 1;
        for (int i = 0; i < 64; i++)
            memcpy(t->uid[i], uid, sizeof(uid));
        cr_test_parallel(50, ROUND, token_one, t);
        for (int i = 0; i < ROUND; i++) {
            if (i % 8 < 2) {
                if (t->status[i] != (i % 8 ? 201 : 405))
                    print_error("%s: %ld %s\n", i % 8 ? "user" : "GET", t->status[i], t->code[i]);
                assert_int_equal(t->status[i], i % 8 ? 201 : 405);
            } else if (t->status[i] == 429) {
                limited++;
                assert_string_equal(t->code[i], "TOO_MANY_REQUESTS");
                assert_non_null(t->retry_after[i]);
                assert_true(atoi(t->retry_after[i]) >= 1);
            } else {
                if (t->status[i] != 200 && t->status[i] != 201)
                    print_error("%ld %s\n", t->status[i], t->code[i]);
                assert_true(t->status[i] == 200 || t->status[i] == 201);
                passed++;
            }
            free(t->retry_after[i]);
        }
        free(t);
        sent += ROUND;
    }
    double secs = (double)(cr_time_mono_ms() - t0) / 1000.0;
    /* burst + 1 at once, then the rate; 0.1 s more for the clock nginx caches per event loop. */
    long long allowed = cr_config_int("RATE_BURST_TOKENS") + 1 +
                        (long long)((double)cr_config_int("RATE_LIMIT_TOKENS") * (secs + 0.1));
    print_message("token flood: %d sent in %.2f s, %d passed (at most %lld), %d got 429\n", sent,
                  secs, passed, allowed, limited);
    assert_true(limited > 0);
    assert_true(passed <= allowed);
    assert_stack_whole(before);
}

static void health_one(int i, void *ctx)
{
    long *status = ctx;
    struct cr_test_res r;
    status[i] = cr_test_req(&r, "GET", i % 2 ? "/healthz" : "/healthz/queue", NULL, NULL);
    if (status[i] == 429) {
        char *ra = cr_test_header(&r, "Retry-After");
        if (ra == NULL || strcmp(cr_test_error_code(&r), "TOO_MANY_REQUESTS") != 0)
            status[i] = -429; /* a 429 without the contract's answer */
        free(ra);
    }
    cr_test_res_free(&r);
}

/* /healthz (and /healthz/<group>, the same zone) is limited too. */
static void test_healthz_is_limited(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    long long t0 = cr_time_mono_ms();
    int limited = 0, passed = 0, n = 400;
    long *status = calloc((size_t)n, sizeof(*status));
    while (limited == 0 && cr_time_mono_ms() - t0 < 20000) {
        cr_test_parallel(50, n, health_one, status);
        for (int i = 0; i < n; i++) {
            assert_true(status[i] == 200 || status[i] == 429);
            limited += status[i] == 429;
            passed += status[i] == 200;
        }
    }
    print_message("healthz: %d passed, %d got 429 in %lld ms\n", passed, limited,
                  cr_time_mono_ms() - t0);
    assert_true(limited > 0);
    free(status);
    assert_stack_whole(before);
}

/* CONN_LIMIT requests in progress from one address (each waits for its body), then one more
 * gets 429 with the contract's JSON; once they are gone, requests pass again. */
static void test_connection_limit(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    int limit = (int)cr_config_int("CONN_LIMIT");
    assert_true(limit >= 50 && limit < 1000);
    int *fds = calloc((size_t)limit, sizeof(*fds));
    /* A kind of request under the general zone (burst 500), so the rate limit stays out of it. */
    static const char held[] = "POST /api/v1/concerts HTTP/1.1\r\nHost: t\r\n"
                               "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    long long t0 = cr_time_mono_ms();
    for (int i = 0; i < limit; i++) {
        fds[i] = raw_connect();
        raw_send(fds[i], held, sizeof(held) - 1);
    }
    /* nginx counts them once it has read their headers: ask until it says 429 (a loaded
     * machine may take seconds), feeding each held body a byte a second so that the body
     * timeout does not end them meanwhile. */
    static const char req[] =
        "GET /api/v1/concerts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct raw_ans a;
    long long fed = t0;
    do {
        raw_exchange(req, sizeof(req) - 1, &a);
        if (cr_time_mono_ms() - fed >= 1000) {
            for (int i = 0; i < limit; i++)
                raw_send(fds[i], " ", 1);
            fed = cr_time_mono_ms();
        }
    } while (raw_status(&a) == 200 && cr_time_mono_ms() - t0 < 30000);
    print_message("connection limit: 429 after %lld ms\n", cr_time_mono_ms() - t0);
    assert_raw_error(&a, 429, "TOO_MANY_REQUESTS");
    assert_non_null(strstr(a.buf, "\r\nRetry-After: "));
    for (int i = 0; i < limit; i++)
        close(fds[i]);
    free(fds);
    assert_stack_whole(before);
}

/* ---- slow and vanishing clients ------------------------------------------------------------ */

/* A body that stops (the finding: a byte every 9 s was taken for 81 s) is cut after
 * CLIENT_TIMEOUT_SECONDS with a close and no answer; so are headers that stop, and a
 * connection that never sends anything. */
static void test_slow_clients_are_cut(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    long long limit_ms = cr_config_int("CLIENT_TIMEOUT_SECONDS") * 1000;
    assert_true(limit_ms < 9000);
    static const char *const starts[] = {
        "POST /api/v1/users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Content-Length: 10\r\n\r\n{",
        "POST /api/v1/users HTTP/1.1\r\nHost: t\r\nContent-Ty",
        "",
    };
    long long users = cr_test_db_int("SELECT COUNT(*) FROM users", NULL, 0);
    struct pollfd p[3];
    long long t0 = cr_time_mono_ms(), closed_at[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        p[i].fd = raw_connect();
        p[i].events = POLLIN;
        raw_send(p[i].fd, starts[i], strlen(starts[i]));
    }
    int open = 3;
    while (open > 0 && cr_time_mono_ms() - t0 < limit_ms + 4000) {
        assert_true(poll(p, 3, 200) >= 0);
        for (int i = 0; i < 3; i++) {
            char buf[512];
            if (p[i].events == 0 || p[i].revents == 0)
                continue;
            /* An answer would be a byte here; only a close (EOF or reset) is expected. */
            assert_true(recv(p[i].fd, buf, sizeof(buf), 0) <= 0);
            closed_at[i] = cr_time_mono_ms() - t0;
            p[i].events = 0;
            open--;
        }
    }
    for (int i = 0; i < 3; i++) {
        print_message("slow client %d: closed after %lld ms\n", i, closed_at[i]);
        close(p[i].fd);
        /* Closed by the timeout: not before it, and soon after. */
        assert_true(closed_at[i] >= limit_ms - 500 && closed_at[i] <= limit_ms + 4000);
    }
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM users", NULL, 0), users);
    assert_stack_whole(before);
}

/* Clients that go away mid-body, right after the request (before the answer) and mid-answer
 * (a reset after reading a few bytes of the answer): nothing dies, the next request passes. */
static void test_disconnects(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    static const char req[] = "GET /api/v1/concerts HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char part[] = "POST /api/v1/users HTTP/1.1\r\nHost: t\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 100\r\n\r\n{\"a\"";
    struct linger rst = {1, 0};
    for (int i = 0; i < 30; i++) {
        int fd = raw_connect();
        switch (i % 3) {
        case 0: /* mid-body */
            raw_send(fd, part, sizeof(part) - 1);
            break;
        case 1: /* before the answer, with a reset */
            raw_send(fd, req, strlen(req));
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
            break;
        default: { /* mid-answer, with a reset */
            char buf[16];
            raw_send(fd, req, strlen(req));
            assert_true(recv(fd, buf, sizeof(buf), MSG_WAITALL) > 0);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
        }
        }
        close(fd);
    }
    assert_stack_whole(before);
}

/* 10,000 idle connections from one address: the next normal request still passes at once,
 * and nginx closes the idle ones after CLIENT_TIMEOUT_SECONDS. */
static void test_ten_thousand_idle(void **state)
{
    enum { N = 10000 };
    char before[2048];
    workers_snapshot(before, sizeof(before));
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < N + 200)
        skip();
    rl.rlim_cur = N + 200;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

    struct pollfd *p = calloc(N, sizeof(*p));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long long t0 = cr_time_mono_ms();
    for (int i = 0; i < N; i++) {
        p[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(p[i].fd >= 0);
        int rc = connect(p[i].fd, (struct sockaddr *)&sa, sizeof(sa));
        assert_true(rc == 0 || errno == EINPROGRESS);
        p[i].events = POLLOUT;
    }
    /* Wait until every connect finished (the listen backlog holds 4096; the kernel retries). */
    int done = 0;
    while (done < N && cr_time_mono_ms() - t0 < 30000) {
        assert_true(poll(p, N, 500) >= 0);
        done = 0;
        for (int i = 0; i < N; i++) {
            if (p[i].revents & (POLLOUT | POLLERR | POLLHUP)) {
                p[i].events = 0;
                p[i].fd = -p[i].fd - 1; /* poll skips it from now on */
            }
            done += p[i].fd < 0;
        }
    }
    int connected = 0;
    for (int i = 0; i < N; i++) {
        int fd = p[i].fd < 0 ? -p[i].fd - 1 : p[i].fd, err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        connected += p[i].fd < 0 && err == 0;
        p[i].fd = fd;
        p[i].events = POLLIN;
    }
    long long t_conn = cr_time_mono_ms() - t0;

    long long t1 = cr_time_mono_ms();
    struct cr_test_res r;
    long st = cr_test_req(&r, "GET", "/api/v1/concerts", NULL, NULL);
    cr_test_res_free(&r);
    long long t_req = cr_time_mono_ms() - t1;

    /* nginx ends them all: count those the server closed, within the timeout and a margin. */
    long long end = cr_time_mono_ms() + cr_config_int("CLIENT_TIMEOUT_SECONDS") * 1000 + 10000;
    int closed = 0;
    while (closed < connected && cr_time_mono_ms() < end) {
        assert_true(poll(p, N, 500) >= 0);
        for (int i = 0; i < N; i++) {
            char c;
            if (p[i].revents != 0 && p[i].events != 0) {
                assert_true(recv(p[i].fd, &c, 1, 0) <= 0);
                p[i].events = 0;
                closed++;
            }
        }
    }
    print_message("idle: %d of %d connected in %lld ms; a request meanwhile: %ld in %lld ms; "
                  "%d closed by nginx\n",
                  connected, N, t_conn, st, t_req, closed);
    for (int i = 0; i < N; i++)
        close(p[i].fd);
    free(p);
    assert_int_equal(connected, N);
    assert_int_equal(st, 200);
    assert_true(t_req < 2000);
    assert_int_equal(closed, connected);
    assert_stack_whole(before);
}

/* ---- requests nginx refuses ------------------------------------------------------------- */

static char *big_header_request(int nlines, int line_len)
{
    /* Each "X-Nn: aaa…\r\n" line is line_len bytes, CRLF included. */
    size_t cap = 256 + (size_t)nlines * (size_t)line_len;
    char *req = malloc(cap), *w = req;
    w += sprintf(w, "GET /api/v1/concerts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (int i = 0; i < nlines; i++) {
        int n = sprintf(w, "X-N%d: ", i);
        memset(w + n, 'a', (size_t)(line_len - n - 2));
        memcpy(w + line_len - 2, "\r\n", 2);
        w += line_len;
    }
    w += sprintf(w, "\r\n");
    *w = '\0';
    return req;
}

/* Headers exactly at nginx's limits (large_client_header_buffers 4 8k) pass: a line of 8192
 * bytes with its CRLF, or four lines of 8190 (the fourth buffer also holds the blank line that
 * ends the headers); one byte more is 431 INVALID_REQUEST. */
static void test_header_limits(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    struct {
        int lines, len;
        long status;
    } cases[] = {{1, 8192, 200}, {4, 8190, 200}, {1, 8193, 431}, {4, 8191, 431}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *req = big_header_request(cases[i].lines, cases[i].len);
        struct raw_ans a;
        raw_exchange(req, strlen(req), &a);
        free(req);
        if (cases[i].status == 200) {
            if (raw_status(&a) != 200)
                print_error("%d x %d bytes: %.300s\n", cases[i].lines, cases[i].len, a.buf);
            assert_int_equal(raw_status(&a), 200);
        } else {
            assert_raw_error(&a, 431, "INVALID_REQUEST");
        }
    }
    assert_stack_whole(before);
}

/* 501 for a transfer coding nginx does not do, 505 for HTTP/2.0 and HTTP/3.0 on the plain
 * port: the contract's JSON. An HTTP/0.9 request (no version), also one with a bad URI, gets no
 * answer at all: the connection is closed. */
static void test_refused_requests(void **state)
{
    char before[2048];
    workers_snapshot(before, sizeof(before));
    struct raw_ans a;
    static const char te[] = "POST /api/v1/users HTTP/1.1\r\nHost: t\r\n"
                             "Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}";
    raw_exchange(te, sizeof(te) - 1, &a);
    assert_raw_error(&a, 501, "INVALID_REQUEST");
    static const char *const versions[] = {"HTTP/2.0", "HTTP/3.0"};
    for (int i = 0; i < 2; i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET /api/v1/concerts %s\r\nHost: t\r\n\r\n", versions[i]);
        raw_exchange(req, strlen(req), &a);
        assert_raw_error(&a, 505, "INVALID_REQUEST");
    }
    static const char *const old[] = {"GET /api/v1/concerts\r\n", "GET /healthz\r\n",
                                      "GET /%zz\r\n", "GET /_err/400\r\n"};
    for (int i = 0; i < 4; i++) {
        raw_exchange(old[i], strlen(old[i]), &a);
        if (a.len != 0)
            print_error("%s answered: %.200s\n", old[i], a.buf);
        assert_true(a.closed);
        assert_int_equal(a.len, 0);
    }
    /* A malformed HTTP/1.1 request line is still the contract's 400. */
    static const char bad[] = "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n";
    raw_exchange(bad, sizeof(bad) - 1, &a);
    assert_raw_error(&a, 400, "INVALID_REQUEST");
    assert_stack_whole(before);
}

int main(void)
{
    cr_test_init();
    const char *base = getenv("CR_BASE_URL");
    stack_dir = getenv("CR_STACK_DIR");
    if (stack_dir == NULL || getenv("CR_SRC_DIR") == NULL ||
        sscanf(base, "http://127.0.0.1:%d", &http_port) != 1) {
        fprintf(stderr, "needs CR_STACK_DIR, CR_SRC_DIR and CR_BASE_URL=http://127.0.0.1:PORT\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_concurrent_pass),
        cmocka_unit_test(test_limits_are_the_defaults),
        cmocka_unit_test(test_token_flood_gets_429),
        cmocka_unit_test(test_healthz_is_limited),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_slow_clients_are_cut),
        cmocka_unit_test(test_disconnects),
        cmocka_unit_test(test_ten_thousand_idle),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_refused_requests),
    };
    return cmocka_run_group_tests_name("http_hostile", tests, NULL, NULL);
}
