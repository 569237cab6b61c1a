/* cr_server.c: libfcgi's explicit request API, one request at a time per process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_metrics.h"
#include "cr_redis.h"
#include "cr_server.h"
#include "cr_text.h"
#include "cr_time.h"
#include "cr_tqueue.h"
#include "cr_uuid.h"

static volatile sig_atomic_t cr_server_reopen_log;
static const struct cr_route *cr_server_ops_routes;
static size_t cr_server_ops_n;

void cr_server_ops(const struct cr_route *ops, size_t n)
{
    cr_server_ops_routes = ops;
    cr_server_ops_n = n;
}

/* The operations endpoints (GET /metrics) are matched by exact path before the API's table,
 * and are not counted: a scrape must not change what it reads. */
static int cr_server_is_ops(const struct cr_req *req)
{
    for (size_t i = 0; i < cr_server_ops_n; i++)
        if (strcmp(req->path, cr_server_ops_routes[i].pattern) == 0)
            return 1;
    return 0;
}

static void cr_server_on_term(int sig)
{
    (void)sig;
    FCGX_ShutdownPending(); /* FCGX_Accept_r returns < 0 once the current request is done */
}

static void cr_server_on_hup(int sig)
{
    (void)sig;
    cr_server_reopen_log = 1;
}

static void cr_server_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cr_server_on_term; /* no SA_RESTART: accept() must see EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* USR1 is what multiwatch sends its workers when it is told to stop (its default graceful
     * signal; Debian's multiwatch 1.0.0 garbles the one named with -s: "-s TERM" sends SIGQUIT,
     * which would kill a worker in the middle of a request). */
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = cr_server_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* The FastCGI params a request reads, found in one pass over envp: FCGX_GetParam scans the
 * whole list per name, ten times a request (about 7 k instructions, as much as a B0 answer's
 * own work). As FCGX_GetParam, the first of a repeated name counts. */
enum { CR_P_METHOD, CR_P_URI, CR_P_SCRIPT, CR_P_QUERY, CR_P_CTYPE, CR_P_AUTH, CR_P_IDEM,
       CR_P_REQID, CR_P_CLEN, CR_P_START, CR_P_N };
static const struct {
    const char *name;
    size_t len;
} cr_params[CR_P_N] = {
#define CR_P(s) {s, sizeof(s) - 1}
    [CR_P_METHOD] = CR_P("REQUEST_METHOD"),  [CR_P_URI] = CR_P("DOCUMENT_URI"),
    [CR_P_SCRIPT] = CR_P("SCRIPT_NAME"),     [CR_P_QUERY] = CR_P("QUERY_STRING"),
    [CR_P_CTYPE] = CR_P("CONTENT_TYPE"),     [CR_P_AUTH] = CR_P("HTTP_AUTHORIZATION"),
    [CR_P_IDEM] = CR_P("HTTP_IDEMPOTENCY_KEY"), [CR_P_REQID] = CR_P("REQUEST_ID"),
    [CR_P_CLEN] = CR_P("CONTENT_LENGTH"),    [CR_P_START] = CR_P("REQUEST_START"),
#undef CR_P
};

static void cr_params_scan(char **envp, const char *out[CR_P_N])
{
    for (int i = 0; i < CR_P_N; i++)
        out[i] = NULL;
    for (char **e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        size_t n = (size_t)(eq - *e);
        for (int i = 0; i < CR_P_N; i++)
            if (cr_params[i].len == n && out[i] == NULL && memcmp(*e, cr_params[i].name, n) == 0) {
                out[i] = eq + 1;
                break;
            }
    }
}

void cr_server_read(struct cr_req *req, char **envp, cr_server_read_fn rd, void *ctx)
{
    const char *v, *p[CR_P_N];
    cr_params_scan(envp, p);
    req->method = p[CR_P_METHOD] ? p[CR_P_METHOD] : "GET";
    req->path = p[CR_P_URI] ? p[CR_P_URI] : p[CR_P_SCRIPT] ? p[CR_P_SCRIPT] : "/";
    req->query = p[CR_P_QUERY] ? p[CR_P_QUERY] : "";
    req->content_type = p[CR_P_CTYPE];
    if (req->content_type != NULL && *req->content_type == '\0')
        req->content_type = NULL;
    req->authorization = p[CR_P_AUTH];
    req->idempotency_key = p[CR_P_IDEM];
    req->request_id = p[CR_P_REQID];
    req->request_start = p[CR_P_START];
    if (!cr_is_safe_id(req->request_id)) {
        /* Without nginx in front (tests of a group alone): make our own. */
        struct cr_uuid u;
        char buf[CR_UUID_STRLEN];
        cr_random_bytes(u.b, sizeof(u.b));
        req->request_id = cr_arena_strdup(req->arena, cr_uuid_format(&u, buf));
    }
    req->content_length = -1;
    if ((v = p[CR_P_CLEN]) != NULL && *v != '\0')
        req->content_length = strtoll(v, NULL, 10);
    req->body = "";
    req->body_len = 0;
    if (req->content_length > 0 && req->content_length <= CR_BODY_MAX) {
        char *buf = cr_arena_alloc(req->arena, (size_t)req->content_length + 1);
        int n = rd(ctx, buf, (int)req->content_length);
        buf[n > 0 ? n : 0] = '\0';
        req->body = buf;
        req->body_len = n > 0 ? (size_t)n : 0;
    }
}

static int cr_server_fcgi_read(void *ctx, char *buf, int n)
{
    return FCGX_GetStr(buf, n, ((FCGX_Request *)ctx)->in);
}

/* When nginx started timing this request: its REQUEST_START ($msec, "1767225600.123"), so
 * that time spent queued for a busy worker counts against the budget too; now without it. */
static long long cr_server_start_ms(const char *v)
{
    long long now = (long long)cr_time_now_ms();
    char *end;
    if (v == NULL)
        return now;
    long long sec = strtoll(v, &end, 10), ms = 0;
    if (end == v || sec <= 0)
        return now;
    if (*end == '.') {
        const char *f = end + 1;
        for (int i = 0; i < 3; i++)
            ms = ms * 10 + (f[0] >= '0' && f[0] <= '9' ? *f++ - '0' : 0);
    }
    long long t = sec * 1000 + ms;
    return t > now ? now : t; /* never a deadline later than our own clock allows */
}

static long long cr_server_since_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long long)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

static const char *cr_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Status";
    }
}

/* The answer's head, gathered in one buffer and handed to libfcgi at once: its printf parsed
 * the formats anew for every header (about 3 k instructions a request). */
struct cr_head {
    FCGX_Stream *out;
    size_t n;
    char buf[1024];
};

static void cr_head_put(struct cr_head *h, const char *s, size_t len)
{
    if (h->n + len > sizeof(h->buf)) {
        FCGX_PutStr(h->buf, (int)h->n, h->out);
        h->n = 0;
        if (len > sizeof(h->buf)) {
            FCGX_PutStr(s, (int)len, h->out);
            return;
        }
    }
    memcpy(h->buf + h->n, s, len);
    h->n += len;
}

static void cr_head_str(struct cr_head *h, const char *s)
{
    cr_head_put(h, s, strlen(s));
}

static void cr_head_int(struct cr_head *h, long long v)
{
    char d[CR_LLD_LEN];
    const char *p = cr_text_lld(d, v);
    cr_head_put(h, p, (size_t)(d + sizeof(d) - p));
}

static void cr_server_write(FCGX_Request *r, struct cr_req *req, struct cr_resp *resp)
{
    struct cr_head h;
    h.out = r->out;
    h.n = 0;
    cr_head_str(&h, "Status: ");
    cr_head_int(&h, resp->status);
    cr_head_str(&h, " ");
    cr_head_str(&h, cr_reason(resp->status));
    cr_head_str(&h, "\r\nX-Request-Id: ");
    cr_head_str(&h, req->request_id);
    cr_head_str(&h, "\r\nCache-Control: no-store\r\n");
    for (int i = 0; i < resp->nheaders; i++) {
        cr_head_str(&h, resp->headers[i][0]);
        cr_head_str(&h, ": ");
        cr_head_str(&h, resp->headers[i][1]);
        cr_head_str(&h, "\r\n");
    }
    const char *body = resp->raw;
    if (body == NULL && resp->body != NULL)
        body = json_object_to_json_string_ext(resp->body, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    if (body == NULL || resp->status == 204) {
        cr_head_str(&h, "\r\n");
        FCGX_PutStr(h.buf, (int)h.n, r->out);
        return;
    }
    size_t len = strlen(body);
    cr_head_str(&h, "Content-Type: ");
    cr_head_str(&h, resp->content_type != NULL ? resp->content_type : "application/json");
    cr_head_str(&h, "\r\nContent-Length: ");
    cr_head_int(&h, (long long)len);
    cr_head_str(&h, "\r\n\r\n");
    FCGX_PutStr(h.buf, (int)h.n, r->out);
    FCGX_PutStr(body, (int)len, r->out);
}

/* The queue mode must be one that exists, and the timed mode needs its signing keys: a worker
 * refuses to start rather than run under a configuration that asks for something else. */
static int cr_server_queue_mode(const char *group)
{
    char err[256];
    const char *mode = cr_config_get("QUEUE_MODE");
    if (strcmp(mode, "redis") == 0)
        return CR_OK;
    if (strcmp(mode, "timed") != 0) {
        cr_log_error("QUEUE_MODE must be redis or timed");
        fprintf(stderr, "%s: QUEUE_MODE must be redis or timed\n", group);
        return CR_E_INVALID;
    }
    if (cr_tqueue_init(err, sizeof(err)) != CR_OK) {
        cr_log_error("timed mode: %s", err);
        fprintf(stderr, "%s: timed mode: %s\n", group, err);
        return CR_E_INVALID;
    }
    return CR_OK;
}

int cr_server_main(const char *group, const struct cr_route *routes, size_t nroutes)
{
    char err[256];
    FCGX_Request r;
    struct cr_arena *arena = NULL;

    if (cr_config_load(NULL, err, sizeof(err)) != CR_OK) {
        fprintf(stderr, "%s: config: %s\n", group, err);
        return 1;
    }
    cr_log_open(group, cr_config_get("LOG_FILE"), cr_config_get("LOG_LEVEL"));
    if (cr_db_budget_check(err, sizeof(err)) != CR_OK ||
        cr_db_hosts_check(err, sizeof(err)) != CR_OK) {
        cr_log_error("config: %s", err);
        fprintf(stderr, "%s: config: %s\n", group, err);
        return 1;
    }
    if (cr_server_queue_mode(group) != CR_OK)
        return 1;
    cr_server_signals();
    if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0) {
        cr_log_error("FastCGI init failed");
        return 1;
    }
    arena = cr_arena_new();
    cr_metrics_open(group);
    cr_log_info("worker started");
    while (FCGX_Accept_r(&r) >= 0) {
        struct cr_req req;
        struct cr_resp resp;
        if (cr_server_reopen_log) {
            cr_server_reopen_log = 0;
            cr_log_open(group, cr_config_get("LOG_FILE"), cr_config_get("LOG_LEVEL"));
        }
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.arena = arena;
        cr_server_read(&req, r.envp, cr_server_fcgi_read, &r);
        cr_log_set_request(req.request_id);
        cr_db_budget_start(cr_server_start_ms(req.request_start));
        int ops = cr_server_is_ops(&req);
        if (ops)
            cr_dispatch(cr_server_ops_routes, cr_server_ops_n, &req, &resp);
        else
            cr_dispatch(routes, nroutes, &req, &resp);
        cr_db_budget_end(); /* req.after runs once the answer is out: nobody waits for it */
        /* Counted before the answer leaves, so that a client holding N answers finds the
         * counter grown by N. */
        if (!ops)
            cr_metrics_request(resp.status, cr_server_since_us(&t0));
        cr_server_write(&r, &req, &resp);
        FCGX_Finish_r(&r); /* envp is gone after this: nothing may point into it */
        if (req.after != NULL)
            req.after(&req, req.after_ctx);
        cr_log_set_request(NULL);
        cr_arena_reset(arena);
    }
    cr_log_info("worker stopping");
    cr_arena_free(arena);
    cr_metrics_close();
    cr_db_close();
    cr_redis_close();
    cr_log_close();
    return 0;
}
