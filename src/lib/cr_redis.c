/* cr_redis.c: one hiredis context per process, reconnected on demand. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_redis.h"

static redisContext *cr_redis_ctx;

void cr_redis_close(void)
{
    if (cr_redis_ctx != NULL)
        redisFree(cr_redis_ctx);
    cr_redis_ctx = NULL;
}

/* Connects to host:port (or the socket when host is NULL) with REDIS_TIMEOUT_MS for the
 * connect and every command, and AUTHs with REDIS_PASSWORD when one is set. NULL on failure
 * (logged); the caller owns the context. */
static redisContext *cr_redis_open(const char *sock, const char *host, int port)
{
    long long ms = cr_config_int("REDIS_TIMEOUT_MS");
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    const char *pw = cr_config_get("REDIS_PASSWORD");
    redisReply *r = NULL;
    redisContext *c;
    if (sock != NULL)
        c = redisConnectUnixWithTimeout(sock, tv);
    else
        c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        if (sock != NULL)
            cr_log_warn("redis connect failed: %s", c ? c->errstr : "out of memory");
        else
            cr_log_warn("redis connect to %s:%d failed: %s", host, port,
                        c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv); /* a stuck Redis must not hang a request */
    if (pw != NULL && *pw != '\0') {
        r = redisCommand(c, "AUTH %s", pw);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            /* The reply names no secret ("WRONGPASS invalid username-password pair"). */
            cr_log_warn("redis AUTH failed: %s", r ? r->str : c->errstr);
            goto fail;
        }
        freeReplyObject(r);
    }
    return c;
fail:
    if (r != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
    return NULL;
}

int cr_redis_addr_next(const char **list, char *host, size_t hostlen, int *port)
{
    const char *p = *list;
    while (*p == ',' || *p == ' ')
        p++;
    if (*p == '\0') {
        *list = p;
        return 0;
    }
    const char *end = strchr(p, ',');
    if (end == NULL)
        end = p + strlen(p);
    *list = end;
    const char *colon = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    if (colon == NULL || colon == p || (size_t)(colon - p) >= hostlen || colon + 1 == end ||
        end - colon > 6)
        return CR_E_INVALID;
    long v = 0;
    for (const char *q = colon + 1; q < end; q++) {
        if (*q < '0' || *q > '9')
            return CR_E_INVALID;
        v = v * 10 + (*q - '0');
    }
    if (v < 1 || v > 65535)
        return CR_E_INVALID;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    *port = (int)v;
    return 1;
}

int cr_redis_master_addr(const redisReply *r, char *host, size_t hostlen, int *port)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[0]->len == 0 || r->element[0]->len >= hostlen)
        return CR_E_UNAVAILABLE;
    char *end = NULL;
    long v = strtol(r->element[1]->str, &end, 10);
    if (end == r->element[1]->str || *end != '\0' || v < 1 || v > 65535)
        return CR_E_UNAVAILABLE;
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)v;
    return CR_OK;
}

int cr_redis_role_master(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
}

int cr_redis_demoted_reply(const char *e)
{
    return strncmp(e, "READONLY", 8) == 0;
}

/* The primary of REDIS_MASTER_NAME: each Sentinel of REDIS_SENTINELS in turn names it, and it
 * must say itself (ROLE) that it is a master: a Sentinel that has not yet noticed a failover
 * names a demoted primary, which would refuse our writes. NULL when none does. */
static redisContext *cr_redis_open_primary(void)
{
    const char *list = cr_config_get("REDIS_SENTINELS");
    const char *name = cr_config_get("REDIS_MASTER_NAME");
    char sh[256], mh[256];
    int sp = 0, mp = 0, rc;
    while ((rc = cr_redis_addr_next(&list, sh, sizeof(sh), &sp)) != 0) {
        if (rc < 0) {
            cr_log_warn("REDIS_SENTINELS: an entry is not host:port");
            continue;
        }
        redisContext *s = cr_redis_open(NULL, sh, sp);
        if (s == NULL)
            continue;
        redisReply *r = redisCommand(s, "SENTINEL get-master-addr-by-name %s", name);
        rc = cr_redis_master_addr(r, mh, sizeof(mh), &mp);
        if (r != NULL)
            freeReplyObject(r);
        redisFree(s);
        if (rc != CR_OK) {
            cr_log_warn("sentinel %s:%d names no primary for %s", sh, sp, name);
            continue;
        }
        redisContext *c = cr_redis_open(NULL, mh, mp);
        if (c == NULL)
            continue;
        r = redisCommand(c, "ROLE");
        int master = cr_redis_role_master(r);
        if (r != NULL)
            freeReplyObject(r);
        if (master) {
            cr_log_info("redis primary %s:%d (from sentinel %s:%d)", mh, mp, sh, sp);
            return c;
        }
        cr_log_warn("sentinel %s:%d names %s:%d, which is not a master", sh, sp, mh, mp);
        redisFree(c);
    }
    return NULL;
}

/* With REDIS_SENTINELS the primary they name; else REDIS_SOCKET, else REDIS_HOST:REDIS_PORT. */
static int cr_redis_connect(void)
{
    if (cr_redis_ctx != NULL)
        return CR_OK;
    const char *sentinels = cr_config_get("REDIS_SENTINELS");
    const char *sock = cr_config_get("REDIS_SOCKET");
    redisContext *c;
    if (sentinels != NULL && *sentinels != '\0')
        c = cr_redis_open_primary();
    else if (sock != NULL && *sock != '\0')
        c = cr_redis_open(sock, NULL, 0);
    else
        c = cr_redis_open(NULL, cr_config_get("REDIS_HOST"), (int)cr_config_int("REDIS_PORT"));
    if (c == NULL)
        return CR_E_UNAVAILABLE;
    cr_redis_ctx = c;
    return CR_OK;
}

/* LOADING (a restarted Redis still reading its AOF), MASTERDOWN and MISCONF mean an unavailable
 * Redis, not a bug: 503, not 500. */
static int cr_redis_unavailable_reply(const char *e)
{
    return strncmp(e, "LOADING", 7) == 0 || strncmp(e, "MASTERDOWN", 10) == 0 ||
           strncmp(e, "MISCONF", 7) == 0;
}

static void cr_redis_free_cb(void *p)
{
    freeReplyObject(p);
}

/* --- riders ------------------------------------------------------------------------------
 *
 * A rider is one command sent in the same write as the next command of the request, its reply
 * read right after that one's: two answers for one round trip (the token gate's HMGET carries
 * the seat map's generation GET). Both live until the arena's reset (cr_redis_ride registers
 * the cleanup), so a rider never outlives its request. */

static char *cr_redis_rider;           /* formatted, not sent yet; NULL: none */
static size_t cr_redis_rider_len;
static redisReply *cr_redis_rider_reply; /* its reply, not taken yet */
static char cr_redis_rider_tag[64];

static void cr_redis_rider_drop(void *unused)
{
    (void)unused;
    redisFreeCommand(cr_redis_rider);
    cr_redis_rider = NULL;
    if (cr_redis_rider_reply != NULL)
        freeReplyObject(cr_redis_rider_reply);
    cr_redis_rider_reply = NULL;
    cr_redis_rider_tag[0] = '\0';
}

/* Sends one formatted command (cmd, owned by the caller) and reads its reply. A stale
 * connection (Redis restarted since our last use) never ran the command, so it is sent once
 * more on a new one. So is a command a demoted primary refused (READONLY: a failover made it a
 * replica; nothing was written), on the primary the Sentinels name now. Error replies are
 * returned as CR_OK when want_error is set. */
/* An error reply the caller did not expect: logged (as "what: ..."), and CR_E_UNAVAILABLE for
 * one that says Redis cannot serve now, else CR_E_INTERNAL. */
static int cr_redis_failed(const redisReply *r, const char *what)
{
    cr_log_error("%s: %.*s", what, (int)r->len, r->str);
    return cr_redis_unavailable_reply(r->str) ? CR_E_UNAVAILABLE : CR_E_INTERNAL;
}

static int cr_redis_send(struct cr_arena *a, redisReply **reply, const char *cmd, size_t len,
                         int want_error)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int had_ctx = cr_redis_ctx != NULL;
        void *r = NULL;
        if (cr_redis_connect() != CR_OK)
            return CR_E_UNAVAILABLE;
        int riding = cr_redis_rider != NULL;
        if (redisAppendFormattedCommand(cr_redis_ctx, cmd, len) != REDIS_OK ||
            (riding && redisAppendFormattedCommand(cr_redis_ctx, cr_redis_rider,
                                                   cr_redis_rider_len) != REDIS_OK) ||
            redisGetReply(cr_redis_ctx, &r) != REDIS_OK || r == NULL) {
            int eof = cr_redis_ctx->err == REDIS_ERR_EOF || cr_redis_ctx->err == REDIS_ERR_IO;
            cr_log_warn("redis connection lost: %s", cr_redis_ctx->errstr);
            cr_redis_close();
            if (eof && had_ctx && attempt == 0)
                continue;
            return CR_E_UNAVAILABLE;
        }
        if (((redisReply *)r)->type == REDIS_REPLY_ERROR &&
            cr_redis_demoted_reply(((redisReply *)r)->str)) {
            cr_log_warn("redis: the primary became a replica; connecting again");
            freeReplyObject(r);
            cr_redis_close();
            if (attempt == 0)
                continue;
            return CR_E_UNAVAILABLE;
        }
        cr_arena_cleanup(a, cr_redis_free_cb, r);
        *reply = r;
        if (riding) {
            void *rr = NULL;
            redisFreeCommand(cr_redis_rider);
            cr_redis_rider = NULL;
            if (redisGetReply(cr_redis_ctx, &rr) != REDIS_OK || rr == NULL) {
                cr_log_warn("redis connection lost: %s", cr_redis_ctx->errstr);
                cr_redis_close(); /* the command's own reply is in; the next one reconnects */
            } else {
                cr_redis_rider_reply = rr;
            }
        }
        if ((*reply)->type == REDIS_REPLY_ERROR && !want_error)
            return cr_redis_failed(*reply, "redis error");
        return CR_OK;
    }
    return CR_E_UNAVAILABLE;
}

/* Writes v in decimal at o (no NUL); returns the number of bytes (vsnprintf was a tenth of a
 * seat-map request's instructions here). */
static size_t cr_redis_put_int(char *o, long long v)
{
    char tmp[24];
    size_t n = 0, k = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        o[k++] = '-';
    while (n > 0)
        o[k++] = tmp[--n];
    return k;
}

/* Writes the length v in decimal at p; returns the end. */
static char *cr_redis_put_len(char *p, size_t v)
{
    return p + cr_redis_put_int(p, (long long)v);
}

/* The command in RESP, in the arena: what redisFormatCommandArgv makes, without its sprintf
 * per argument and its malloc (a tenth of a join's CPU in the worker, bench/RESULTS.md). */
static int cr_redis_argv_raw(struct cr_arena *a, redisReply **reply, int argc,
                             const char **argv, const size_t *argvlen, int want_error)
{
    size_t total = 16;
    if (argc < 1)
        return CR_E_INTERNAL;
    for (int i = 0; i < argc; i++)
        total += (argvlen ? argvlen[i] : strlen(argv[i])) + 26;
    char *cmd = cr_arena_alloc(a, total), *p = cmd;
    if (cmd == NULL)
        return CR_E_INTERNAL;
    *p++ = '*';
    p = cr_redis_put_len(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        *p++ = '$';
        p = cr_redis_put_len(p, n);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    return cr_redis_send(a, reply, cmd, (size_t)(p - cmd), want_error);
}

int cr_redis_argv(struct cr_arena *a, redisReply **reply, int argc, const char **argv,
                  const size_t *argvlen)
{
    return cr_redis_argv_raw(a, reply, argc, argv, argvlen, 0);
}

/* --- formatting --------------------------------------------------------------------------
 *
 * hiredis 0.14's redisvFormatCommand grows an sds string per argument and runs vsnprintf for
 * every directive: a third of a seat-map worker's own instructions went there (18 k of
 * 72 k per request, callgrind, bench/RESULTS.md). The library's formats use only %s, %b,
 * %d, %lld and %%; those are formatted here in one pass over the pieces and one malloc, with
 * the same meaning (arguments split on spaces, a directive's text never split). Any other
 * format goes to hiredis. */

#define CR_REDIS_FMT_PIECES 64

struct cr_redis_piece {
    const char *p;
    size_t n;
    int arg_end; /* 1: the last piece of its argument */
};

/* Formats fmt with ap into a malloc'd RESP command (*cmd, free()d by redisFreeCommand);
 * returns its length, or -1 when fmt holds something this formatter does not handle. */
static long long cr_redis_format_fast(char **cmd, char nums[][24], const char *fmt, va_list ap)
{
    struct cr_redis_piece pc[CR_REDIS_FMT_PIECES];
    int np = 0, nargs = 0, nnums = 0, in_arg = 0;
    const char *f = fmt;
    while (*f != '\0') {
        if (np >= CR_REDIS_FMT_PIECES - 1 || nnums >= CR_REDIS_FMT_PIECES)
            return -1;
        if (*f == ' ') {
            if (in_arg)
                pc[np - 1].arg_end = 1;
            in_arg = 0;
            f++;
            continue;
        }
        struct cr_redis_piece *x = &pc[np++];
        x->arg_end = 0;
        if (!in_arg)
            nargs++;
        in_arg = 1;
        if (*f != '%') {
            const char *e = f;
            while (*e != '\0' && *e != ' ' && *e != '%')
                e++;
            x->p = f;
            x->n = (size_t)(e - f);
            f = e;
        } else if (f[1] == 's') {
            x->p = va_arg(ap, const char *);
            x->n = strlen(x->p);
            f += 2;
        } else if (f[1] == 'b') {
            x->p = va_arg(ap, const char *);
            x->n = va_arg(ap, size_t);
            f += 2;
        } else if (f[1] == 'd') {
            x->n = cr_redis_put_int(nums[nnums], va_arg(ap, int));
            x->p = nums[nnums++];
            f += 2;
        } else if (f[1] == 'l' && f[2] == 'l' && f[3] == 'd') {
            x->n = cr_redis_put_int(nums[nnums], va_arg(ap, long long));
            x->p = nums[nnums++];
            f += 4;
        } else if (f[1] == '%') {
            x->p = "%";
            x->n = 1;
            f += 2;
        } else {
            return -1;
        }
    }
    if (in_arg)
        pc[np - 1].arg_end = 1;
    /* "*N\r\n", and per argument "$len\r\n" + bytes + "\r\n" (lengths: at most 20 digits). */
    size_t total = 16, alen = 0;
    for (int i = 0; i < np; i++)
        total += pc[i].n + (pc[i].arg_end ? 25 : 0);
    char *out = malloc(total), *o = out;
    if (out == NULL)
        return -1;
    *o++ = '*';
    o += cr_redis_put_int(o, nargs);
    *o++ = '\r';
    *o++ = '\n';
    int first = 0;
    for (int i = 0; i < np; i++) {
        alen += pc[i].n;
        if (!pc[i].arg_end)
            continue;
        *o++ = '$';
        o += cr_redis_put_int(o, (long long)alen);
        *o++ = '\r';
        *o++ = '\n';
        for (int k = first; k <= i; k++) {
            memcpy(o, pc[k].p, pc[k].n);
            o += pc[k].n;
        }
        *o++ = '\r';
        *o++ = '\n';
        first = i + 1;
        alen = 0;
    }
    *cmd = out;
    return (long long)(o - out);
}

/* fmt formatted with ap: the fast formatter, or hiredis's for what it does not handle. */
static long long cr_redis_vformat(char **cmd, const char *fmt, va_list ap)
{
    char nums[CR_REDIS_FMT_PIECES][24];
    va_list again;
    va_copy(again, ap);
    long long len = cr_redis_format_fast(cmd, nums, fmt, ap);
    if (len < 0)
        len = redisvFormatCommand(cmd, fmt, again);
    va_end(again);
    return len;
}

void cr_redis_ride(struct cr_arena *a, const char *tag, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    cr_redis_rider_drop(NULL);
    va_start(ap, fmt);
    long long len = cr_redis_vformat(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    cr_redis_rider = cmd;
    cr_redis_rider_len = (size_t)len;
    snprintf(cr_redis_rider_tag, sizeof(cr_redis_rider_tag), "%s", tag);
    cr_arena_cleanup(a, cr_redis_rider_drop, cr_redis_rider_tag); /* any non-NULL */
}

int cr_redis_ridden(struct cr_arena *a, const char *tag, redisReply **reply)
{
    int found = cr_redis_rider_reply != NULL && strcmp(tag, cr_redis_rider_tag) == 0;
    if (found) {
        *reply = cr_redis_rider_reply;
        cr_arena_cleanup(a, cr_redis_free_cb, cr_redis_rider_reply);
        cr_redis_rider_reply = NULL;
    }
    cr_redis_rider_drop(NULL); /* a rider not sent by now is not wanted any more */
    return found ? CR_OK : CR_E_NOT_FOUND;
}

long long cr_redis_format(char **cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long long len = cr_redis_vformat(cmd, fmt, ap);
    va_end(ap);
    return len;
}

int cr_redis_cmd(struct cr_arena *a, redisReply **reply, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    long long len = cr_redis_vformat(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return CR_E_INTERNAL;
    int rc = cr_redis_send(a, reply, cmd, (size_t)len, 0);
    redisFreeCommand(cmd);
    return rc;
}

#define CR_REDIS_MAX_ARGS 32

int cr_redis_eval(struct cr_arena *a, redisReply **reply, struct cr_redis_script *script,
                  int nkeys, int argc, const char **argv)
{
    const char *args[CR_REDIS_MAX_ARGS + 3];
    char nk[16];
    int rc;
    if (argc > CR_REDIS_MAX_ARGS)
        return CR_E_INTERNAL;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    for (int i = 0; i < argc; i++)
        args[i + 3] = argv[i];
    args[2] = nk;
    if (script->sha[0] != '\0') {
        args[0] = "EVALSHA";
        args[1] = script->sha;
        rc = cr_redis_argv_raw(a, reply, argc + 3, args, NULL, 1);
        if (rc != CR_OK)
            return rc;
        if ((*reply)->type != REDIS_REPLY_ERROR)
            return CR_OK;
        if (strncmp((*reply)->str, "NOSCRIPT", 8) != 0)
            return cr_redis_failed(*reply, "redis script error");
    }
    /* EVAL also caches the script on the server, so the next EVALSHA finds it. */
    args[0] = "EVAL";
    args[1] = script->source;
    rc = cr_redis_argv(a, reply, argc + 3, args, NULL);
    if (rc == CR_OK) {
        redisReply *sha = NULL;
        if (cr_redis_cmd(a, &sha, "SCRIPT LOAD %s", script->source) == CR_OK &&
            sha->type == REDIS_REPLY_STRING && sha->len == 40)
            memcpy(script->sha, sha->str, 41);
    }
    return rc;
}

int cr_redis_native(struct cr_arena *a, redisReply **reply, const char *command, int argc,
                    const char **argv)
{
    const char *args[CR_REDIS_MAX_ARGS + 1];
    if (argc > CR_REDIS_MAX_ARGS)
        return CR_E_INTERNAL;
    args[0] = command;
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    int rc = cr_redis_argv_raw(a, reply, argc + 1, args, NULL, 1);
    if (rc != CR_OK || (*reply)->type != REDIS_REPLY_ERROR)
        return rc;
    if (strncmp((*reply)->str, "ERR unknown command", 19) == 0)
        return CR_E_NOT_FOUND;
    return cr_redis_failed(*reply, "redis error");
}

int cr_redis_ping(void)
{
    redisReply *r = NULL;
    struct cr_arena *a = cr_arena_new();
    int rc = cr_redis_cmd(a, &r, "PING");
    cr_arena_free(a);
    return rc;
}
