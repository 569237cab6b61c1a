/* test_alert.c: concert-alert against the real stack: real 503s (Redis down), 500s (a table
 * gone) and 502s (a group's socket gone) reach a webhook receiver on loopback as one message
 * with the right counts; quiet runs, a failed post retried once, rotation of the logs. */
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cr_test.h"
#include "cr_time.h"

#define HOOK_MAX 32

/* ---------------------------------------------------------------------------------------- */
/* The webhook receiver: a tiny HTTP server on a thread, recording each body it gets and     */
/* answering with the status the test sets.                                                  */

struct hook {
    int fd, port, stop;
    pthread_t thread;
    pthread_mutex_t lock;
    int answer;
    int n;
    char *bodies[HOOK_MAX];
};

static struct hook hook = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .answer = 200};

/* Reads one request from c: returns the malloc'd body, or NULL. */
static char *hook_read(int c)
{
    size_t cap = 65536, len = 0, want = 0;
    char *buf = malloc(cap + 1), *body = NULL, *end = NULL;
    ssize_t n;
    while (buf != NULL && len < cap && (n = read(c, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        buf[len] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl != NULL ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (end != NULL && len >= want) {
            body = strndup(end + 4, want - (size_t)(end + 4 - buf));
            break;
        }
    }
    free(buf);
    return body;
}

static void *hook_main(void *arg)
{
    struct pollfd p = {hook.fd, POLLIN, 0};
    while (!hook.stop) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(hook.fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char *body = hook_read(c);
        pthread_mutex_lock(&hook.lock);
        int status = hook.answer;
        if (body != NULL && hook.n < HOOK_MAX)
            hook.bodies[hook.n++] = body;
        else
            free(body);
        pthread_mutex_unlock(&hook.lock);
        char resp[128];
        int rl = snprintf(resp, sizeof(resp),
                          "HTTP/1.1 %d Test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                          status);
        ssize_t w = write(c, resp, (size_t)rl);
        (void)w;
        close(c);
    }
    return NULL;
}

static void hook_start(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    hook.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(hook.fd >= 0);
    assert_int_equal(bind(hook.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(hook.fd, 16), 0);
    assert_int_equal(getsockname(hook.fd, (struct sockaddr *)&a, &al), 0);
    hook.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&hook.thread, NULL, hook_main, NULL), 0);
}

static void hook_stop(void)
{
    hook.stop = 1;
    pthread_join(hook.thread, NULL);
    close(hook.fd);
    for (int i = 0; i < hook.n; i++)
        free(hook.bodies[i]);
    hook.n = 0;
}

static int hook_count(void)
{
    pthread_mutex_lock(&hook.lock);
    int n = hook.n;
    pthread_mutex_unlock(&hook.lock);
    return n;
}

static void hook_answer(int status)
{
    pthread_mutex_lock(&hook.lock);
    hook.answer = status;
    pthread_mutex_unlock(&hook.lock);
}

/* The "text" of the i-th body received; malloc'd. The body must be a Slack message. */
static char *hook_text(int i)
{
    json_object *o, *t;
    pthread_mutex_lock(&hook.lock);
    assert_true(i < hook.n);
    o = json_tokener_parse(hook.bodies[i]);
    pthread_mutex_unlock(&hook.lock);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "text", &t));
    char *s = strdup(json_object_get_string(t));
    json_object_put(o);
    return s;
}

static int hook_same(int i, int j)
{
    pthread_mutex_lock(&hook.lock);
    int same = strcmp(hook.bodies[i], hook.bodies[j]) == 0;
    pthread_mutex_unlock(&hook.lock);
    return same;
}

/* ---------------------------------------------------------------------------------------- */
/* The stack and the job.                                                                     */

struct run {
    int posted;
    long lines, groups;
};

/* Runs concert-alert on the stack's logs (url NULL: the receiver; "" none) and parses its
 * one summary line. The job must exit 0. */
static struct run alert_run(const char *url)
{
    char cmd[2048], out[512] = "", hookurl[64];
    struct run r = {0, -1, -1};
    json_object *o, *v;
    snprintf(hookurl, sizeof(hookurl), "http://127.0.0.1:%d/hook", hook.port);
    snprintf(cmd, sizeof(cmd),
             "CONCERT_CONFIG='%s/concert.conf' ALERT_WEBHOOK_URL='%s' LOG_DIR='%s/log' "
             "'%s/concert-alert'",
             getenv("CR_STACK_DIR"), url != NULL ? url : hookurl, getenv("CR_STACK_DIR"),
             getenv("CR_BIN_DIR"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(out, sizeof(out), p) == NULL)
        out[0] = '\0';
    assert_int_equal(pclose(p), 0);
    o = json_tokener_parse(out);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "posted", &v));
    r.posted = json_object_get_boolean(v);
    assert_true(json_object_object_get_ex(o, "lines", &v));
    r.lines = json_object_get_int64(v);
    assert_true(json_object_object_get_ex(o, "groups", &v));
    r.groups = json_object_get_int64(v);
    json_object_put(o);
    return r;
}

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", getenv("CR_STACK_DIR"), rel);
}


/* Waits (3 s at most) until log/name holds a line of request rid: nginx writes its access
 * line after the answer has gone out. */
static void wait_logged(const char *name, const char *rid)
{
    char path[1024], needle[128];
    path_of(path, sizeof(path), name);
    snprintf(needle, sizeof(needle), "\"requestId\":\"%s\"", rid);
    for (long long end = cr_test_now_ms() + 10000; cr_test_now_ms() < end;) {
        if (cr_test_sh("grep -qF '%s' '%s'", needle, path) == 0)
            return;
        cr_test_sleep_ms(10);
    }
    fail_msg("%s never logged %s", name, rid);
}

/* One request with our own request id; returns the status. */
static long req_id(const char *method, const char *path, const char *body, const char *rid)
{
    struct cr_test_res r;
    char h[128];
    snprintf(h, sizeof(h), "X-Request-Id: %s", rid);
    const char *hs[] = {h, NULL};
    long st = cr_test_req(&r, method, path, body, hs);
    cr_test_res_free(&r);
    return st;
}

static int redis_up(void)
{
    return cr_test_sh("[ \"$(redis-cli -s '%s/run/redis.sock' ping 2>/dev/null)\" = PONG ]",
              getenv("CR_STACK_DIR")) == 0;
}

static void redis_start(void)
{
    if (redis_up())
        return;
    assert_int_equal(cr_test_redis_start(), 0);
    for (long long end = cr_test_now_ms() + 20000; !redis_up() && cr_test_now_ms() < end;)
        cr_test_sleep_ms(100);
    assert_true(redis_up());
}

static void redis_stop(void)
{
    cr_test_sh("redis-cli -s '%s/run/redis.sock' shutdown >/dev/null 2>&1", getenv("CR_STACK_DIR"));
    for (long long end = cr_test_now_ms() + 20000; redis_up() && cr_test_now_ms() < end;)
        cr_test_sleep_ms(100);
    assert_false(redis_up());
}

static int sql(const char *stmt)
{
    return cr_test_sh("mariadb --no-defaults --socket='%s/run/mysqld.sock' -uroot concert -e '%s' "
              ">/dev/null 2>&1",
              getenv("CR_STACK_DIR"), stmt);
}

/* Takes the payment group's socket away from nginx (a 502, as with a dead group) or back. */
static void payment_socket(int away)
{
    char sock[1024], moved[1024];
    path_of(sock, sizeof(sock), "run/payment.sock");
    path_of(moved, sizeof(moved), "run/payment.sock.alert-away");
    if (away)
        assert_int_equal(rename(sock, moved), 0);
    else if (access(moved, F_OK) == 0)
        assert_int_equal(rename(moved, sock), 0);
}

/* A 502 from nginx for the payment group, request id rid. */
static void cause_502(const char *uid, const char *rid)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", uid);
    payment_socket(1);
    long st = req_id("GET", path, NULL, rid);
    payment_socket(0);
    assert_int_equal(st, 502);
    wait_logged("log/nginx-access.log", rid);
    assert_int_equal(req_id("GET", path, NULL, "alert-ok"), 200);
}

/* Appends a well-formed error line of concert-expire with the given code to log/name. */
static void append_error(const char *name, const char *code)
{
    char path[1024], ts[CR_TIME_LEN], line[512];
    path_of(path, sizeof(path), name);
    int n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"level\":\"error\",\"group\":\"expire\",\"requestId\":\"\","
                     "\"msg\":\"rotation test\",\"code\":\"%s\"}\n",
                     cr_time_format(cr_time_now_ms(), ts), code);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, line, (size_t)n), n);
    close(fd);
}

static char uid[37];

static int group_setup(void **state)
{
    cr_test_new_user(uid);
    hook_start();
    /* Start from now: what earlier test programs logged is not this test's business. */
    alert_run(NULL);
    for (int i = 0; i < hook.n; i++)
        free(hook.bodies[i]);
    hook.n = 0;
    return 0;
}

static int group_teardown(void **state)
{
    /* Put back whatever a failed test may have left. */
    redis_start();
    sql("RENAME TABLE concerts_alert_away TO concerts");
    payment_socket(0);
    hook_stop();
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The tests.                                                                                 */

static void test_three_kinds_one_message(void **state)
{
    char body[128], rid[32];
    int before = hook_count();

    /* 1. Redis down: the queue group answers 503 SERVICE_UNAVAILABLE. */
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", uid);
    redis_stop();
    for (int i = 1; i <= 3; i++) {
        snprintf(rid, sizeof(rid), "alert-q-%d", i);
        assert_int_equal(req_id("POST", "/api/v1/queue/tokens", body, rid), 503);
    }
    redis_start();

    /* 2. A table gone: the concert group answers 500 INTERNAL_ERROR. */
    assert_int_equal(sql("RENAME TABLE concerts TO concerts_alert_away"), 0);
    long s1 = req_id("GET", "/api/v1/concerts", NULL, "alert-c-1");
    long s2 = req_id("GET", "/api/v1/concerts", NULL, "alert-c-2");
    assert_int_equal(sql("RENAME TABLE concerts_alert_away TO concerts"), 0);
    assert_int_equal(s1, 500);
    assert_int_equal(s2, 500);
    assert_int_equal(req_id("GET", "/api/v1/concerts", NULL, "alert-ok"), 200);

    /* 3. The payment group unreachable: nginx's own 502. */
    cause_502(uid, "alert-p-1");
    wait_logged("log/nginx-access.log", "alert-q-3");
    wait_logged("log/nginx-access.log", "alert-c-2");

    struct run r = alert_run(NULL);
    assert_true(r.posted);
    assert_int_equal(r.groups, 3);
    /* Each failed request counts once, though its group and nginx both logged it. */
    assert_true(r.lines >= 6);
    assert_int_equal(hook_count(), before + 1);
    char *text = hook_text(before);
    printf("message:\n%s\n", text);
    assert_non_null(strstr(text, "*concert: 6 errors in 3 groups*"));
    assert_non_null(strstr(text, "`SERVICE_UNAVAILABLE` in *queue*: 3, first "));
    assert_non_null(strstr(text, "request `alert-q-1`"));
    assert_non_null(strstr(text, "`INTERNAL_ERROR` in *concert*: 2, first "));
    assert_non_null(strstr(text, "request `alert-c-1`: mariadb error 1146"));
    assert_non_null(strstr(text, "`HTTP_502` in *payment*: 1, first "));
    assert_non_null(strstr(text, "request `alert-p-1`: nginx answered 502 to a GET request"));
    /* Listed most frequent first. */
    assert_true(strstr(text, "SERVICE_UNAVAILABLE") < strstr(text, "INTERNAL_ERROR"));
    assert_true(strstr(text, "INTERNAL_ERROR") < strstr(text, "HTTP_502"));
    free(text);
}

static void test_quiet_when_nothing_new(void **state)
{
    int before = hook_count();
    /* Successful requests and 404s are no errors. */
    assert_int_equal(req_id("GET", "/api/v1/concerts", NULL, "alert-quiet-1"), 200);
    assert_int_equal(req_id("GET", "/api/v1/nothing-here", NULL, "alert-quiet-2"), 404);
    wait_logged("log/nginx-access.log", "alert-quiet-2");
    struct run r = alert_run(NULL);
    assert_false(r.posted);
    assert_int_equal(r.lines, 0);
    assert_int_equal(r.groups, 0);
    assert_int_equal(hook_count(), before);
}

static void test_failed_post_is_retried_once(void **state)
{
    int before = hook_count();
    cause_502(uid, "alert-r-1");

    hook_answer(500);
    struct run r = alert_run(NULL);
    assert_false(r.posted);
    assert_int_equal(r.groups, 1);
    assert_int_equal(hook_count(), before + 1);

    hook_answer(200);
    r = alert_run(NULL);
    assert_true(r.posted);
    assert_int_equal(hook_count(), before + 2);
    assert_true(hook_same(before, before + 1));
    char *text = hook_text(before + 1);
    assert_non_null(strstr(text, "`HTTP_502` in *payment*: 1, "));
    assert_non_null(strstr(text, "request `alert-r-1`"));
    free(text);

    r = alert_run(NULL);
    assert_false(r.posted);
    assert_int_equal(r.lines, 0);
    assert_int_equal(hook_count(), before + 2);
}

static void test_no_url_does_nothing(void **state)
{
    int before = hook_count();
    cause_502(uid, "alert-e-1");
    struct run r = alert_run("");
    assert_false(r.posted);
    assert_int_equal(r.lines, 0);
    assert_int_equal(hook_count(), before);
    /* Nothing was consumed: configured again, the error is reported. */
    r = alert_run(NULL);
    assert_true(r.posted);
    char *text = hook_text(before);
    assert_non_null(strstr(text, "request `alert-e-1`"));
    free(text);
}

/* A client makes nginx answer 501 (an unknown Transfer-Encoding) to a URI written for the
 * operators' channel: the alert counts it, under its request id, and repeats none of it. */
static void test_crafted_request_not_in_message(void **state)
{
    static const char *const reqs[] = {
        "GET /api/v1/URGENT-wire-money-to-evil.example?<!channel> HTTP/1.1\r\nHost: x\r\n"
        "X-Request-Id: alert-te-1\r\nTransfer-Encoding: <!channel> call evil.example\r\n"
        "Connection: close\r\n\r\n",
        "GET /api/v1/\xff\xfe-evil HTTP/1.1\r\nHost: x\r\nX-Request-Id: alert-te-2\r\n"
        "Transfer-Encoding: x\xff<!here>\r\nConnection: close\r\n\r\n",
    };
    int before = hook_count();
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct cr_test_res r;
        assert_int_equal(cr_test_raw(&r, reqs[i], strlen(reqs[i])), 501);
        cr_test_res_free(&r);
    }
    wait_logged("log/nginx-access.log", "alert-te-2");
    struct run r = alert_run(NULL);
    assert_true(r.posted);
    assert_int_equal(hook_count(), before + 1);
    char *text = hook_text(before);
    printf("message:\n%s\n", text);
    assert_non_null(strstr(text, "`HTTP_501` in *nginx*: 2, first "));
    assert_non_null(strstr(text, "request `alert-te-1`: nginx answered 501 to a GET request"));
    static const char *const never[] = {"URGENT", "evil", "channel", "here", "\xff", "<!"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strstr(text, never[i]) != NULL)
            fail_msg("the alert repeats client text (%s)", never[i]);
    free(text);
}

/* The message of the last run holds each of want (codes) with count 1 and none of dont. */
static void assert_codes(int i, const char *const *want, const char *const *dont)
{
    char needle[96];
    char *text = hook_text(i);
    for (; want != NULL && *want != NULL; want++) {
        snprintf(needle, sizeof(needle), "`%s` in *expire*: 1,", *want);
        if (strstr(text, needle) == NULL)
            fail_msg("no \"%s\" in:\n%s", needle, text);
    }
    for (; dont != NULL && *dont != NULL; dont++)
        if (strstr(text, *dont) != NULL)
            fail_msg("\"%s\" posted twice:\n%s", *dont, text);
    free(text);
}

static void test_rotation(void **state)
{
    char live[1024], old[1024];
    struct run r;
    int n = hook_count();
    path_of(live, sizeof(live), "log/expire.log");
    path_of(old, sizeof(old), "log/expire.log.1");

    /* Rename rotation (what logrotate does for nginx's logs). */
    append_error("log/expire.log", "ROT_A1");
    r = alert_run(NULL);
    assert_true(r.posted);
    assert_codes(n++, (const char *const[]){"ROT_A1", NULL}, NULL);
    append_error("log/expire.log", "ROT_A2");
    assert_int_equal(rename(live, old), 0);
    append_error("log/expire.log", "ROT_A3");
    r = alert_run(NULL);
    assert_true(r.posted);
    assert_int_equal(r.groups, 2);
    assert_codes(n++, (const char *const[]){"ROT_A2", "ROT_A3", NULL},
                 (const char *const[]){"ROT_A1", NULL});
    r = alert_run(NULL);
    assert_false(r.posted);
    assert_int_equal(hook_count(), n);

    /* copytruncate (what logrotate does for the groups' logs): a copy, then the file emptied. */
    append_error("log/expire.log", "ROT_B1");
    r = alert_run(NULL);
    assert_true(r.posted);
    assert_codes(n++, (const char *const[]){"ROT_B1", NULL}, (const char *const[]){"ROT_A", NULL});
    append_error("log/expire.log", "ROT_B2");
    assert_int_equal(cr_test_sh("cp '%s' '%s' && : >'%s'", live, old, live), 0);
    append_error("log/expire.log", "ROT_B3");
    r = alert_run(NULL);
    assert_true(r.posted);
    assert_int_equal(r.groups, 2);
    assert_codes(n++, (const char *const[]){"ROT_B2", "ROT_B3", NULL},
                 (const char *const[]){"ROT_B1", "ROT_A", NULL});
    r = alert_run(NULL);
    assert_false(r.posted);
    assert_int_equal(hook_count(), n);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_kinds_one_message),
        cmocka_unit_test(test_quiet_when_nothing_new),
        cmocka_unit_test(test_failed_post_is_retried_once),
        cmocka_unit_test(test_no_url_does_nothing),
        cmocka_unit_test(test_crafted_request_not_in_message),
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests_name("http_alert", tests, group_setup, group_teardown);
}
