/* cr_redis.c: one hiredis context per process, reconnected on demand. */
#include <stdarg.h>
#include <stdio.h>
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
        if (redisAppendFormattedCommand(cr_redis_ctx, cmd, len) != REDIS_OK ||
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

/* Writes v in decimal at p; returns the end. */
static char *cr_redis_put_len(char *p, size_t v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = d[--n];
    return p;
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

int cr_redis_cmd(struct cr_arena *a, redisReply **reply, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
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
