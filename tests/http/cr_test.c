/* cr_test.c: libcurl requests, thread fan-out and JSON accessors for the HTTP tests. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cr_catalog.h"
#include "cr_config.h"
#include "cr_db.h"
#include "cr_test.h"
#include "cr_time.h"

static const char *cr_test_base;

void cr_test_init(void)
{
    char err[256];
    cr_test_base = getenv("CR_BASE_URL");
    if (cr_test_base == NULL) {
        fprintf(stderr, "CR_BASE_URL is not set: run the HTTP tests through tests/http.sh\n");
        exit(1);
    }
    if (cr_config_load(NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "config: %s\n", err);
        exit(1);
    }
    curl_global_init(CURL_GLOBAL_ALL);
}

struct cr_test_buf {
    char *p;
    size_t len;
};

static size_t cr_test_collect(char *data, size_t size, size_t n, void *userp)
{
    struct cr_test_buf *b = userp;
    size_t add = size * n;
    char *p = realloc(b->p, b->len + add + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, data, add);
    b->p = p;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

long cr_test_req(struct cr_test_res *res, const char *method, const char *path, const char *body,
                 const char *const *headers)
{
    struct cr_test_buf bbuf = {NULL, 0}, hbuf = {NULL, 0};
    struct curl_slist *hl = NULL;
    char url[2048];
    int has_ct = 0;

    memset(res, 0, sizeof(*res));
    CURL *c = curl_easy_init();
    snprintf(url, sizeof(url), "%s%s", cr_test_base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cr_test_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, cr_test_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hbuf);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    for (; headers != NULL && *headers != NULL; headers++) {
        hl = curl_slist_append(hl, *headers);
        if (strncasecmp(*headers, "Content-Type:", 13) == 0)
            has_ct = 1;
    }
    hl = curl_slist_append(hl, "Expect:");
    if (body != NULL) {
        if (!has_ct)
            hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    res->body = bbuf.p ? bbuf.p : strdup("");
    res->len = bbuf.len;
    res->headers = hbuf.p ? hbuf.p : strdup("");
    if (res->len > 0)
        res->json = json_tokener_parse(res->body);
    return res->status;
}

void cr_test_res_free(struct cr_test_res *res)
{
    free(res->body);
    free(res->headers);
    json_object_put(res->json);
    memset(res, 0, sizeof(*res));
}

long cr_test_raw(struct cr_test_res *res, const char *data, size_t len)
{
    struct cr_test_buf buf = {NULL, 0};
    struct sockaddr_in a;
    struct timeval tv = {30, 0};
    char chunk[4096];
    ssize_t n;
    const char *port = strrchr(cr_test_base, ':');

    memset(res, 0, sizeof(*res));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The address of "http://ADDR:PORT" (a cluster's nginx is not on 127.0.0.1). */
    const char *host = strstr(cr_test_base, "://");
    char addr[64];
    if (host != NULL && port != NULL && port > host + 3 && (size_t)(port - host - 3) < sizeof(addr)) {
        memcpy(addr, host + 3, (size_t)(port - host - 3));
        addr[port - host - 3] = '\0';
        if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    a.sin_port = htons((uint16_t)(port != NULL ? atoi(port + 1) : 80));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        for (size_t off = 0; off < len; off += (size_t)n)
            if ((n = write(fd, data + off, len - off)) <= 0)
                break;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0)
            cr_test_collect(chunk, 1, (size_t)n, &buf);
    }
    if (fd >= 0)
        close(fd);
    char *all = buf.p ? buf.p : strdup(""), *end = strstr(all, "\r\n\r\n");
    if (strncmp(all, "HTTP/1.", 7) == 0 && strlen(all) > 12)
        res->status = strtol(all + 9, NULL, 10);
    size_t hlen = end != NULL ? (size_t)(end - all) + 4 : buf.len;
    res->headers = strndup(all, hlen);
    res->len = buf.len - hlen;
    res->body = malloc(res->len + 1);
    memcpy(res->body, all + hlen, res->len);
    res->body[res->len] = '\0';
    free(all);
    if (res->len > 0)
        res->json = json_tokener_parse(res->body);
    return res->status;
}

char *cr_test_header(const struct cr_test_res *res, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = res->headers; p != NULL && *p != '\0';) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return strndup(v, len - (size_t)(v - p));
        }
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    return NULL;
}

const char *cr_test_error_code(const struct cr_test_res *res)
{
    json_object *e, *c;
    if (res->json != NULL && json_object_object_get_ex(res->json, "error", &e) &&
        json_object_object_get_ex(e, "code", &c))
        return json_object_get_string(c);
    return "";
}

const char *cr_test_str(const struct cr_test_res *res, const char *key)
{
    json_object *v;
    if (res->json != NULL && json_object_object_get_ex(res->json, key, &v) && v != NULL)
        return json_object_get_string(v);
    return "";
}

long long cr_test_int(const struct cr_test_res *res, const char *key)
{
    json_object *v;
    if (res->json != NULL && json_object_object_get_ex(res->json, key, &v) &&
        json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    return -1;
}

void cr_test_assert_error(const struct cr_test_res *res, long status, const char *code)
{
    json_object *e, *v;
    if (res->status != status || strcmp(cr_test_error_code(res), code) != 0)
        print_error("want %ld %s, got %ld %s\n", status, code, res->status, res->body);
    assert_int_equal(res->status, status);
    assert_string_equal(cr_test_error_code(res), code);
    assert_true(json_object_object_get_ex(res->json, "error", &e));
    assert_true(json_object_object_get_ex(e, "message", &v));
    assert_true(json_object_is_type(v, json_type_string));
    assert_true(json_object_object_get_ex(e, "requestId", &v));
    assert_true(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0);
    char *ct = cr_test_header(res, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "application/json"));
    free(ct);
}

long long cr_test_db_int(const char *sql, const struct cr_db_val *params, int n)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_db_rows rows;
    assert_int_equal(cr_db_query(a, sql, params, n, &rows), 0);
    assert_int_equal(rows.nrows, 1);
    long long v = CR_DB_CELL(&rows, 0, 0)->type == CR_DB_NULL ? -1 : CR_DB_CELL(&rows, 0, 0)->i;
    cr_arena_free(a);
    return v;
}

long long cr_test_root_int(const char *sql)
{
    char cmd[2048];
    long long v = -1;
    snprintf(cmd, sizeof(cmd), "mariadb --no-defaults --socket='%s' -uroot -N -B concert -e \"%s\"",
             getenv("CR_DB_SOCKET"), sql);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    pclose(f);
    return v;
}

long long cr_test_new_schedule(long long concert_id, int nseats)
{
    long long id = 0;
    struct cr_db_val p[] = {CR_DB_I(concert_id),
                            CR_DB_T(cr_time_now_ms() + 3650LL * 24 * 3600 * 1000),
                            CR_DB_I(nseats)};
    assert_int_equal(cr_db_exec("INSERT INTO schedules (concert_id, starts_at, total_seats)"
                                " VALUES (?, ?, ?)",
                                p, 3, NULL, &id),
                     0);
    struct cr_db_val s[] = {CR_DB_I(id), CR_DB_I(nseats)};
    assert_int_equal(cr_db_exec("INSERT INTO seats (schedule_id, seat_no, price)"
                                " SELECT ?, seq, 1000 * seq FROM seq_1_to_1000 WHERE seq <= ?",
                                s, 2, NULL, NULL),
                     0);
    return id;
}

void cr_test_seat_maps_changed(void)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_db_rows rows;
    assert_non_null(a);
    assert_int_equal(cr_db_query(a, "SELECT schedule_id FROM seat_map_versions", NULL, 0, &rows),
                     0);
    for (int r = 0; r < rows.nrows; r++)
        cr_catalog_touch(a, CR_DB_CELL(&rows, r, 0)->i);
    cr_arena_free(a);
}

struct cr_test_pool {
    void (*fn)(int, void *);
    void *ctx;
    int ntasks;
    int next;
    pthread_mutex_t lock;
};

static void *cr_test_worker(void *arg)
{
    struct cr_test_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->ntasks)
            return NULL;
        p->fn(i, p->ctx);
    }
}

void cr_test_parallel(int nthreads, int ntasks, void (*fn)(int i, void *ctx), void *ctx)
{
    struct cr_test_pool p = {fn, ctx, ntasks, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, cr_test_worker, &p);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    free(t);
}

void cr_test_new_user(char *uid)
{
    struct cr_test_res r;
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL), 201);
    snprintf(uid, 37, "%s", cr_test_str(&r, "userId"));
    assert_int_equal(strlen(uid), 36);
    cr_test_res_free(&r);
}

long long cr_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cr_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cr_test_wait_for(int (*cond)(void *ctx), void *ctx, long timeout_ms)
{
    long long end = cr_test_now_ms() + timeout_ms;
    int v;
    while (!(v = cond(ctx)) && cr_test_now_ms() < end)
        cr_test_sleep_ms(20);
    return v;
}

int cr_test_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1)
        return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

int cr_test_pid_alive(pid_t pid)
{
    char path[64], buf[512];
    if (pid <= 0 || kill(pid, 0) != 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0; /* reaped between the two looks */
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may hold spaces and parentheses, so the state follows the
     * last ')'. */
    const char *rp = strrchr(buf, ')');
    return rp == NULL || rp[1] != ' ' || rp[2] != 'Z';
}

int cr_test_group_workers(const char *group, int *out, int max)
{
    char path[512], cmd[128];
    const char *dir = getenv("CR_STACK_DIR");
    long sup = 0, pid;
    int n = 0;
    if (dir == NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/run/%s.pid", dir, group);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &sup) != 1)
        sup = 0;
    fclose(f);
    if (sup <= 0)
        return 0;
    snprintf(cmd, sizeof(cmd), "pgrep -P %ld", sup);
    if ((f = popen(cmd, "r")) == NULL)
        return 0;
    while (n < max && fscanf(f, "%ld", &pid) == 1)
        out[n++] = (int)pid;
    pclose(f);
    return n;
}

/* The bytes a process has read so far (/proc/PID/io), -1 when it cannot be read. */
static long long test_rchar(int pid)
{
    char path[64], line[128];
    long long v = -1;
    snprintf(path, sizeof(path), "/proc/%d/io", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "rchar: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

#define CR_TEST_MAX_WORKERS 32

int cr_test_burst_workers(const char *group, int nthreads, int ntasks,
                          void (*fn)(int i, void *ctx), void *ctx, int max_bursts, int *served,
                          int *workers)
{
    int pids[CR_TEST_MAX_WORKERS];
    long long before[CR_TEST_MAX_WORKERS];
    int n = cr_test_group_workers(group, pids, CR_TEST_MAX_WORKERS);
    assert_true(n >= 2);
    for (int w = 0; w < n; w++)
        before[w] = test_rchar(pids[w]);
    int got = 0, bursts = 0;
    while (got < n && bursts < max_bursts) {
        cr_test_parallel(nthreads, ntasks, fn, ctx);
        bursts++;
        got = 0;
        for (int w = 0; w < n; w++)
            got += test_rchar(pids[w]) > before[w];
    }
    *served = got;
    *workers = n;
    return bursts;
}

long long cr_test_redis_calls(void)
{
    char cmd[512], line[512];
    long long total = 0;
    snprintf(cmd, sizeof(cmd), "redis-cli -s %s/run/redis.sock INFO commandstats",
             getenv("CR_STACK_DIR"));
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *c = strstr(line, "calls=");
        if (c != NULL)
            total += atoll(c + 6);
    }
    pclose(f);
    return total;
}

int cr_test_redis_start(void)
{
    const char *src = getenv("CR_SRC_DIR"), *dir = getenv("CR_STACK_DIR");
    char cmd[2048];
    if (src == NULL || dir == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "bash -c 'source \"%s/scripts/lib.sh\" && cr_redis_start \"%s\"' >/dev/null 2>&1", src,
             dir);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}
