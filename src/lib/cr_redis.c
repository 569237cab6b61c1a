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

static int cr_redis_connect(void)
{
    if (cr_redis_ctx != NULL)
        return CR_OK;
    long long ms = cr_config_int("REDIS_TIMEOUT_MS");
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    const char *sock = cr_config_get("REDIS_SOCKET");
    redisContext *c;
    if (sock != NULL && *sock != '\0')
        c = redisConnectUnixWithTimeout(sock, tv);
    else
        c = redisConnectWithTimeout(cr_config_get("REDIS_HOST"),
                                    (int)cr_config_int("REDIS_PORT"), tv);
    if (c == NULL || c->err) {
        cr_log_warn("redis connect failed: %s", c ? c->errstr : "out of memory");
        if (c != NULL)
            redisFree(c);
        return CR_E_UNAVAILABLE;
    }
    redisSetTimeout(c, tv); /* a stuck Redis must not hang a request */
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
 * more on a new one. Error replies are returned as CR_OK when want_error is set. */
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
        if ((*reply)->type == REDIS_REPLY_ERROR && !want_error) {
            const char *e = (*reply)->str;
            cr_log_error("redis error: %.*s", (int)(*reply)->len, e);
            if (cr_redis_unavailable_reply(e))
                return CR_E_UNAVAILABLE;
            return CR_E_INTERNAL;
        }
        return CR_OK;
    }
    return CR_E_UNAVAILABLE;
}

static int cr_redis_argv_raw(struct cr_arena *a, redisReply **reply, int argc,
                             const char **argv, const size_t *argvlen, int want_error)
{
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0)
        return CR_E_INTERNAL;
    int rc = cr_redis_send(a, reply, cmd, (size_t)len, want_error);
    redisFreeCommand(cmd);
    return rc;
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
        if (strncmp((*reply)->str, "NOSCRIPT", 8) != 0) {
            cr_log_error("redis script error: %.*s", (int)(*reply)->len, (*reply)->str);
            /* EVALSHA asks for error replies, so the check of cr_redis_send is repeated here. */
            return cr_redis_unavailable_reply((*reply)->str) ? CR_E_UNAVAILABLE : CR_E_INTERNAL;
        }
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

int cr_redis_ping(void)
{
    redisReply *r = NULL;
    struct cr_arena *a = cr_arena_new();
    int rc = cr_redis_cmd(a, &r, "PING");
    cr_arena_free(a);
    return rc;
}
