/* test_input.c: strict input through the real stack: a NUL (raw, escaped or %00), invalid
 * UTF-8, lone surrogates, duplicate JSON keys and repeated query parameters are 400 and change
 * nothing in the database; error bodies and every log line of those requests hold no raw
 * client byte; deep JSON and huge query strings get a contract answer and the next request
 * succeeds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_test.h"
#include "cr_text.h"
#include "cr_time.h"
#include "cr_uuid.h"

/* The request ids this program sent with a hostile request: their log lines are checked. */
#define MAX_IDS 128
static char sent_ids[MAX_IDS][40];
static int nsent;
static int unlogged[MAX_IDS]; /* 1: nginx refused the request before reading its headers */
static char uid[37];

static const char *next_id(void)
{
    assert_true(nsent < MAX_IDS);
    snprintf(sent_ids[nsent], sizeof(sent_ids[0]), "input-%d-%lld", nsent,
             (long long)cr_time_now_ms());
    return sent_ids[nsent++];
}

/* Asserts the contract's error with a body that is clean UTF-8 JSON (no raw byte >= 0x80
 * that is not part of a character, no control character but JSON's whitespace). */
static void assert_clean_error(const struct cr_test_res *r, long status, const char *code)
{
    cr_test_assert_error(r, status, code);
    int clean = cr_utf8_valid(r->body, r->len);
    for (size_t i = 0; i < r->len; i++)
        if ((unsigned char)r->body[i] < 0x20 && strchr("\r\n\t", r->body[i]) == NULL)
            clean = 0;
    if (!clean)
        fail_msg("the error body is not clean UTF-8: %s", r->body);
    assert_null(memchr(r->body, 0xff, r->len));
    assert_null(memchr(r->body, 0xfe, r->len));
}

/* One request through libcurl with a fresh X-Request-Id. */
static long req(struct cr_test_res *r, const char *method, const char *path, const char *body)
{
    char h[80];
    snprintf(h, sizeof(h), "X-Request-Id: %s", next_id());
    const char *hs[] = {h, NULL};
    return cr_test_req(r, method, path, body, hs);
}

/* One raw request: method and target as given (raw bytes kept), extra header lines (each
 * ending in \r\n, may be ""), and a body of blen bytes (NULL: none). */
static long raw(struct cr_test_res *r, const char *method, const char *target, const char *extra,
                const char *body, size_t blen)
{
    size_t cap = strlen(target) + strlen(extra) + blen + 512;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int n = snprintf(buf, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: %s\r\n%s"
                     "Connection: close\r\n",
                     method, target, next_id(), extra);
    if (body != NULL)
        n += snprintf(buf + n, cap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(buf + n, cap - (size_t)n, "\r\n");
    if (body != NULL) {
        memcpy(buf + n, body, blen);
        n += (int)blen;
    }
    long st = cr_test_raw(r, buf, (size_t)n);
    free(buf);
    return st;
}

static long long db_balance(void)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(uid, &u), 0);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT balance FROM users WHERE uuid = ?", p, 1);
}

static long long db_entries(void)
{
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(uid, &u), 0);
    struct cr_db_val p[] = {CR_DB_UUID(&u)};
    return cr_test_db_int("SELECT COUNT(*) FROM balance_entries e JOIN users u ON u.id = e.user_id"
                          " WHERE u.uuid = ?",
                          p, 1);
}

static long charge_raw(struct cr_test_res *r, const char *body, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    return raw(r, "POST", path, "", body, len);
}

/* A charge body that must be refused: 400, and neither the balance nor the entries move. */
static void charge_refused(const char *body, size_t len)
{
    struct cr_test_res r;
    long long b = db_balance(), e = db_entries();
    charge_raw(&r, body, len);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(), b);
    assert_int_equal(db_entries(), e);
}

/* The service still answers: a charge of 1 goes through. */
static void next_request_succeeds(void)
{
    struct cr_test_res r;
    char path[128];
    long long b = db_balance();
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    assert_int_equal(cr_test_req(&r, "POST", path, "{\"amount\":1}", NULL), 200);
    assert_int_equal(cr_test_int(&r, "balance"), b + 1);
    cr_test_res_free(&r);
    assert_int_equal(db_balance(), b + 1);
}

/* ---------------------------------------------------------------------------------------- */

/* "<uuid>\u0000garbage" was read as the uuid: a token was issued for it. */
static void test_nul_escape_in_uuid(void **state)
{
    (void)state;
    struct cr_test_res r;
    char body[160];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\\u0000garbage\"}", uid);
    req(&r, "POST", "/api/v1/queue/tokens", body);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* A raw NUL in the same place. */
    int n = snprintf(body, sizeof(body), "{\"userId\":\"%s", uid);
    memcpy(body + n, "\0x\"}", 4);
    raw(&r, "POST", "/api/v1/queue/tokens", "", body, (size_t)n + 4);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* Nothing was issued: the user's first real join makes a new token (201, not 200). */
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", uid);
    assert_int_equal(req(&r, "POST", "/api/v1/queue/tokens", body), 201);
    cr_test_res_free(&r);
}

/* %00 cut a query value short ("5%00zz" read as 5); a NUL in the path is refused too. */
static void test_nul_in_query_and_path(void **state)
{
    (void)state;
    struct cr_test_res r;
    char path[256];
    static const char *const queries[] = {"limit=5%00zz", "limit=%00", "before=1%00",
                                          "limit=5&x=%00", "limit=5%0a", "limit=1&limit=100"};
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history?%s", uid, queries[i]);
        req(&r, "GET", path, NULL);
        assert_clean_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* Before the token gate: a malformed query is malformed whoever asks. */
    req(&r, "GET", "/api/v1/concerts/1/schedules?available=true%00", NULL);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%s%%00garbage/balance", uid);
    req(&r, "GET", path, NULL);
    unlogged[nsent - 1] = 1; /* nginx refuses it with the request line, before X-Request-Id */
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history?limit=5", uid);
    assert_int_equal(req(&r, "GET", path, NULL), 200);
    cr_test_res_free(&r);
}

/* Invalid UTF-8 in a path or a query value is 400, and the answer does not echo it (it was a
 * 404 "no route for /api/v1/users/\xff\xfe/..." with the raw bytes). */
static void test_invalid_utf8_in_path_and_query(void **state)
{
    (void)state;
    struct cr_test_res r;
    char path[256];
    static const char *const targets[] = {
        "/api/v1/users/\xff\xfe/balancex", "/api/v1/users/%ff%fe/balancex",
        "/api/v1/users/%ed%a0%80/balance", "/api/v1/concerts?x=%c0%af",
        "/api/v1/concerts?\xff=1",
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        raw(&r, "GET", targets[i], "", NULL, 0);
        assert_clean_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history?before=\xff", uid);
    raw(&r, "GET", path, "", NULL, 0);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* An unknown but clean path is still 404, without repeating the path. */
    req(&r, "GET", "/api/v1/nowhere-to-be-found", NULL);
    assert_clean_error(&r, 404, "NOT_FOUND");
    assert_null(strstr(r.body, "nowhere"));
    cr_test_res_free(&r);
}

static void test_invalid_utf8_body(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"amount\":1,\"note\":\"\xff\"}", "{\"amount\":1,\"note\":\"\xc0\xaf\"}",
        "{\"amount\":1,\"note\":\"\xed\xa0\x80\"}", "{\"amount\":1,\"\xfe\":0}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        charge_refused(bodies[i], strlen(bodies[i]));
    static const char nul[] = "{\"amount\":1,\"note\":\"a\0b\"}";
    charge_refused(nul, sizeof(nul) - 1);
    next_request_succeeds();
}

static void test_lone_surrogates(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"amount\":1,\"note\":\"\\ud800\"}",
        "{\"amount\":1,\"note\":\"\\udc00\\ud800\"}",
        "{\"amount\":1,\"\\udbff\":0}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        charge_refused(bodies[i], strlen(bodies[i]));
    next_request_succeeds();
}

/* {"amount":20000000,"amount":1} charged 1: the last key won. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"amount\":20000000,\"amount\":1}",
        "{\"amount\":1,\"amount\":1}",
        "{\"amount\":1,\"\\u0061mount\":2}",
        "{\"amount\":1,\"x\":{\"y\":1,\"y\":2}}",
        "{\"amount\":1,\"x\":[{},{\"z\":[],\"z\":[]}]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        charge_refused(bodies[i], strlen(bodies[i]));
    struct cr_test_res r;
    char body[200];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"userId\":\"%s\"}", uid, uid);
    req(&r, "POST", "/api/v1/queue/tokens", body);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    next_request_succeeds();
}

/* The Content-Type header is parsed: a control character or a byte past ASCII in it is 400. */
static void test_bad_content_type(void **state)
{
    (void)state;
    static const char *const cts[] = {"Content-Type: application/json; charset=\xff\r\n",
                                      "Content-Type: application/json\x01\r\n"};
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        struct cr_test_res r;
        char buf[512];
        long long b = db_balance();
        int n = snprintf(buf, sizeof(buf),
                         "POST %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n%s"
                         "Content-Length: 12\r\nConnection: close\r\n\r\n{\"amount\":1}",
                         path, next_id(), cts[i]);
        cr_test_raw(&r, buf, (size_t)n);
        /* nginx may refuse such a header line itself (400); either way: refused, clean. */
        assert_clean_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
        assert_int_equal(db_balance(), b);
    }
}

/* 10,000 nested arrays are over the body limit (413); 8,000 fit and are 400; so are 2,000
 * nested objects. No worker dies: the next request succeeds. */
static void test_deep_json(void **state)
{
    (void)state;
    struct cr_test_res r;
    size_t n = 10000;
    char *deep = malloc(2 * n + 16);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    charge_raw(&r, deep, 2 * n);
    assert_clean_error(&r, 413, "PAYLOAD_TOO_LARGE");
    cr_test_res_free(&r);
    n = 8000;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    charge_refused(deep, 2 * n);
    size_t p = 0;
    for (int i = 0; i < 2000; i++)
        p += (size_t)snprintf(deep + p, 16, "{\"a\":");
    deep[p++] = '1';
    memset(deep + p, '}', 2000);
    charge_refused(deep, p + 2000);
    free(deep);
    next_request_succeeds();
}

/* Thousands of query parameters: fine when each asked-for one is there once, 400 when one is
 * repeated, nginx's 414 when the line is too long; then the next request succeeds. */
static void test_many_query_params(void **state)
{
    (void)state;
    struct cr_test_res r;
    size_t cap = 200000;
    char *target = malloc(cap);
    assert_non_null(target);
    int n = snprintf(target, cap, "/api/v1/users/%s/balance/history?limit=5", uid);
    while (n < 7500)
        n += snprintf(target + n, cap - (size_t)n, "&p%d=%d", n, n);
    assert_int_equal(raw(&r, "GET", target, "", NULL, 0), 200);
    assert_non_null(r.json);
    cr_test_res_free(&r);

    n = snprintf(target, cap, "/api/v1/users/%s/balance/history?limit=5", uid);
    while (n < 7500)
        n += snprintf(target + n, cap - (size_t)n, "&limit=5");
    raw(&r, "GET", target, "", NULL, 0);
    assert_clean_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);

    while ((size_t)n < cap - 16)
        n += snprintf(target + n, cap - (size_t)n, "&a=1");
    raw(&r, "GET", target, "", NULL, 0);
    unlogged[nsent - 1] = 1; /* nginx never read its X-Request-Id */
    assert_clean_error(&r, 414, "INVALID_REQUEST");
    cr_test_res_free(&r);
    free(target);
    next_request_succeeds();
}

/* Every line that the groups or nginx logged for the requests above is one valid UTF-8 JSON
 * object without a raw client byte or a control character; and each request left some line
 * (the check is not vacuous). */
static void test_logs_hold_no_raw_bytes(void **state)
{
    (void)state;
    char dir[1024], path[2048], *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int seen[MAX_IDS] = {0};
    snprintf(dir, sizeof(dir), "%s/log", getenv("CR_STACK_DIR"));
    struct cr_test_res r;
    assert_int_equal(req(&r, "GET", "/api/v1/concerts", NULL), 200);
    cr_test_res_free(&r);
    /* nginx writes an access line after its answer went out: wait for this last one. */
    long long deadline = cr_time_now_ms() + 5000;
    for (int done = 0; !done;) {
        char cmd[2300];
        snprintf(cmd, sizeof(cmd), "grep -qF '\"%s\"' '%s/nginx-access.log'", sent_ids[nsent - 1],
                 dir);
        done = system(cmd) == 0;
        if (!done && cr_time_now_ms() > deadline)
            fail_msg("nginx never logged %s", sent_ids[nsent - 1]);
        if (!done)
            usleep(20000);
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".log") != 0 || strstr(de->d_name, "stderr"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        while ((len = getline(&line, &cap, f)) > 0) {
            int which = -1;
            for (int i = 0; i < nsent && which < 0; i++)
                if (memmem(line, (size_t)len, sent_ids[i], strlen(sent_ids[i])) != NULL)
                    which = i;
            if (which < 0)
                continue;
            seen[which]++;
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            if (!cr_text_clean(line, (size_t)len))
                fail_msg("%s: a line with raw client bytes: %s", de->d_name, line);
            json_object *o = json_tokener_parse(line);
            if (o == NULL)
                fail_msg("%s: not JSON: %s", de->d_name, line);
            json_object_put(o);
        }
        fclose(f);
    }
    closedir(d);
    free(line);
    for (int i = 0; i < nsent; i++)
        if (seen[i] == 0 && !unlogged[i])
            fail_msg("no log line for %s", sent_ids[i]);
}

static int setup(void **state)
{
    (void)state;
    cr_test_new_user(uid);
    return 0;
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_escape_in_uuid),
        cmocka_unit_test(test_nul_in_query_and_path),
        cmocka_unit_test(test_invalid_utf8_in_path_and_query),
        cmocka_unit_test(test_invalid_utf8_body),
        cmocka_unit_test(test_lone_surrogates),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_bad_content_type),
        cmocka_unit_test(test_deep_json),
        cmocka_unit_test(test_many_query_params),
        /* Last: it reads the log lines of everything above. */
        cmocka_unit_test(test_logs_hold_no_raw_bytes),
    };
    return cmocka_run_group_tests_name("http_input", tests, setup, NULL);
}
