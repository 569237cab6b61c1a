/* cr_queue.c: the waiting line as Lua scripts over a few Redis keys:
 *   {q}:wait    ZSET token -> arrival number (INCR of {q}:seq): the line, in order
 *   {q}:idle    ZSET token -> idle deadline (ms) of each waiter: who stopped polling
 *   {q}:active  ZSET token -> end of active time (ms): the admitted, at most QUEUE_ACTIVE_MAX
 *   {q}:adm     ZSET admission number ({q}:admitted after it) -> admission time (ms), last 5
 *               minutes: the measured rate. Every admission from the line; of those straight
 *               from a join with nobody waiting, every 64th (the rate is what lies between the
 *               oldest and the counter now)
 *   {q}:tok:<t> HASH user, state (W|A), exp: what the token gate reads, expiring with it
 *   {q}:known   HASH user -> the user's latest token ("" for none): one place in line per
 *               user (the token counts while {q}:tok:<t> lives), and the users known to exist
 *               in MariaDB (users are never deleted), so that a join needs no database lookup:
 *               one HGET answers both. Filled by the wallet on creation and by a join that had
 *               to ask MariaDB. Losing it costs lookups, never correctness.
 *   {q}:used:<t> user of a token spent by a payment, kept 24 hours
 *   {q}:admitted count of every admission since the line began (/metrics)
 *   {q}:users   SET of the users known before {q}:known existed: asked once per user, by a
 *               join that finds the user in neither
 * Time is the worker's clock, passed to every script (ARGV[4]): one Redis command fewer than
 * TIME; on one machine it is the same clock, across hosts NTP keeps them within milliseconds,
 * which moves deadlines by as much and never the order of the line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_queue.h"
#include "cr_redis.h"
#include "cr_time.h"
#include "cr_tqueue.h"

#define CR_QUEUE_USED_TTL_MS "86400000"

/* Shared by every script: KEYS[1..5] = wait, idle, active, adm, seq;
 * ARGV[1..4] = QUEUE_ACTIVE_MAX, active TTL ms, idle TTL ms, now ms. */
#define CR_QUEUE_PRELUDE                                                                        \
    "local wait, idle, active, adm, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]\n"        \
    "local max, attl, ittl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"         \
    "local now = tonumber(ARGV[4])\n"                                                           \
    "local P = '{q}:'\n"                                                                        \
    "local function drop(t)\n"                                                                  \
    "  local u = redis.call('HGET', P..'tok:'..t, 'user')\n"                                    \
    "  redis.call('DEL', P..'tok:'..t)\n"                                                       \
    "  if u and redis.call('HGET', P..'known', u) == t then redis.call('HSET', P..'known', u, '') end\n" \
    "end\n"                                                                                     \
    "local function purge()\n"                                                                  \
    "  local n, m = 0, 0\n"                                                                     \
    "  for _, t in ipairs(redis.call('ZRANGEBYSCORE', active, '-inf', now)) do\n"               \
    "    redis.call('ZREM', active, t); drop(t); n = n + 1\n"                                   \
    "  end\n"                                                                                   \
    "  for _, t in ipairs(redis.call('ZRANGEBYSCORE', idle, '-inf', now)) do\n"                 \
    "    redis.call('ZREM', idle, t); redis.call('ZREM', wait, t); drop(t); m = m + 1\n"        \
    "  end\n"                                                                                   \
    "  return n, m\n"                                                                           \
    "end\n"                                                                                     \
    "local function admit()\n"                                                                  \
    "  local k = 0\n"                                                                           \
    "  local free = max - redis.call('ZCARD', active)\n"                                        \
    "  local ts = free > 0 and redis.call('ZRANGE', wait, 0, free - 1) or {}\n"                 \
    "  if #ts > 0 then\n"                                                                       \
    "    local n = tonumber(redis.call('GET', P..'admitted') or '0')\n"                         \
    "    for _, t in ipairs(ts) do\n"                                                           \
    "      local exp, tk = now + attl, P..'tok:'..t\n"                                          \
    "      k = k + 1\n"                                                                         \
    "      redis.call('ZREM', wait, t); redis.call('ZREM', idle, t)\n"                          \
    "      redis.call('ZADD', active, exp, t); redis.call('ZADD', adm, now, n + k)\n"           \
    "      redis.call('HSET', tk, 'state', 'A', 'exp', exp); redis.call('PEXPIREAT', tk, exp)\n" \
    "    end\n"                                                                                 \
    "    redis.call('INCRBY', P..'admitted', k)\n"                                              \
    "  end\n"                                                                                   \
    "  redis.call('ZREMRANGEBYSCORE', adm, '-inf', now - 300000)\n"                             \
    "  return k\n"                                                                              \
    "end\n"                                                                                     \
    "local function touch(t)\n"                                                                 \
    "  local dl, tk = now + ittl, P..'tok:'..t\n"                                               \
    "  redis.call('ZADD', idle, dl, t); redis.call('HSET', tk, 'exp', dl)\n"                    \
    "  redis.call('PEXPIREAT', tk, dl)\n"                                                       \
    "end\n"                                                                                     \
    "local function status(t, created)\n"                                                       \
    "  local h = redis.call('HMGET', P..'tok:'..t, 'state', 'exp', 'user')\n"                   \
    "  if not h[1] then return {0} end\n"                                                       \
    "  local pos = 0\n"                                                                         \
    "  if h[1] == 'W' then pos = redis.call('ZRANK', wait, t) + 1 end\n"                        \
    "  local oldest = redis.call('ZRANGE', adm, 0, 0, 'WITHSCORES')\n"                          \
    "  local n = tonumber(redis.call('GET', P..'admitted') or '0')\n"                           \
    "  local recent = oldest[1] and n - (tonumber(oldest[1]) or n) + 1 or 0\n"                  \
    "  return {1, t, h[3], h[1], pos, tonumber(h[2]), recent,\n"                                \
    "          tonumber(oldest[2] or now), now, created}\n"                                     \
    "end\n"

/* KEYS[6] = {q}:known, KEYS[7] = {q}:users; ARGV[5] = a fresh token, ARGV[6] = the user,
 * ARGV[7] = 1 when the caller found the user in MariaDB, 0 when the script must find it in
 * {q}:known (or {q}:users) and otherwise returns {-1} without joining.
 * The join storm's hot path: one HGET says whether the user is known and which token it
 * holds; a new token goes straight to the active set when nobody waits and there is room,
 * which is what admit() would do with it at once, in fewer commands; and without purge()
 * first, which cannot change that decision (tokens past their time still in the active set
 * only make it look fuller; their keys are gone by their own expiry). Every 64th admission
 * there is recorded in {q}:adm (and the record trimmed to 5 minutes): enough to measure the
 * rate, at 1/64 of the commands. 8 commands. */
static struct cr_redis_script cr_queue_join_lua = {
    CR_QUEUE_PRELUDE
    "local u = ARGV[6]\n"
    "local cur = redis.call('HGET', KEYS[6], u)\n"
    "if not cur and ARGV[7] ~= '1' and redis.call('SISMEMBER', KEYS[7], u) == 0 then\n"
    "  return {-1}\n"
    "end\n"
    "local function live(t) return t and t ~= '' and redis.call('EXISTS', P..'tok:'..t) == 1 and t end\n"
    "local t, created = live(cur), 0\n"
    "if not t and redis.call('ZCARD', wait) == 0 and redis.call('ZCARD', active) < max then\n"
    "  t = ARGV[5]\n"
    "  local exp, tk = now + attl, P..'tok:'..t\n"
    "  redis.call('ZADD', active, exp, t)\n"
    "  redis.call('HSET', tk, 'user', u, 'state', 'A', 'exp', exp)\n"
    "  redis.call('PEXPIREAT', tk, exp)\n"
    "  redis.call('HSET', KEYS[6], u, t)\n"
    "  local n = redis.call('INCR', P..'admitted')\n"
    "  if n % 64 == 0 then\n"
    "    redis.call('ZADD', adm, now, n)\n"
    "    redis.call('ZREMRANGEBYSCORE', adm, '-inf', now - 300000)\n"
    "  end\n"
    /* what status(t, 1) would return for it (the estimate's inputs are unused when active) */
    "  return {1, t, u, 'A', 0, exp, 0, now, now, 1}\n"
    "end\n"
    "purge()\n"
    "t = live(t)\n" /* purge() drops a token in the very millisecond its time ends */
    "if not t then\n"
    "  t, created = ARGV[5], 1\n"
    "  local dl, tk = now + ittl, P..'tok:'..t\n"
    "  redis.call('ZADD', wait, redis.call('INCR', seq), t); redis.call('ZADD', idle, dl, t)\n"
    "  redis.call('HSET', tk, 'user', u, 'state', 'W', 'exp', dl)\n"
    "  redis.call('PEXPIREAT', tk, dl)\n"
    "  redis.call('HSET', KEYS[6], u, t)\n"
    "elseif redis.call('HGET', P..'tok:'..t, 'state') == 'W' then\n"
    "  touch(t)\n"
    "end\n"
    "admit()\n"
    "return status(t, created)\n",
    ""};

/* ARGV[5] = the token. */
static struct cr_redis_script cr_queue_poll_lua = {
    CR_QUEUE_PRELUDE
    "purge()\n"
    "admit()\n"
    "if redis.call('HGET', P..'tok:'..ARGV[5], 'state') == 'W' then touch(ARGV[5]) end\n"
    "return status(ARGV[5], 0)\n",
    ""};

/* ARGV[5] = the token, ARGV[6] = 1 to record it as used, ARGV[7] = how long (ms). */
static struct cr_redis_script cr_queue_leave_lua = {
    CR_QUEUE_PRELUDE
    "local t = ARGV[5]\n"
    "local u = redis.call('HGET', P..'tok:'..t, 'user')\n"
    "if u then\n"
    "  redis.call('ZREM', wait, t); redis.call('ZREM', idle, t); redis.call('ZREM', active, t)\n"
    "  drop(t)\n"
    "  if ARGV[6] == '1' then redis.call('SET', P..'used:'..t, u, 'PX', ARGV[7]) end\n"
    "end\n"
    "purge()\n"
    "admit()\n"
    "if u then return 1 end\n"
    "return 0\n",
    ""};

static struct cr_redis_script cr_queue_maintain_lua = {
    CR_QUEUE_PRELUDE
    "local n, m = purge()\n"
    "return {n, m, admit()}\n",
    ""};

long long cr_queue_estimate(long long position, long long admitted, long long oldest_ms,
                            long long now_ms, long long active_max, long long active_ttl_s)
{
    if (position <= 0)
        return 0;
    long long window_ms = now_ms - oldest_ms;
    if (admitted >= 2 && window_ms >= 1000) {
        double per_second = (double)admitted * 1000.0 / (double)window_ms;
        return (long long)ceil((double)position / per_second);
    }
    if (active_max < 1)
        active_max = 1;
    return (position + active_max - 1) / active_max * active_ttl_s;
}

/* Runs a line script with the shared keys plus nextra keys and args. */
static int cr_queue_run(struct cr_arena *a, redisReply **reply, struct cr_redis_script *s,
                        int nextra_keys, const char **extra_keys, int nargs, const char **args)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = "{q}:wait";
    argv[n++] = "{q}:idle";
    argv[n++] = "{q}:active";
    argv[n++] = "{q}:adm";
    argv[n++] = "{q}:seq";
    for (int i = 0; i < nextra_keys; i++)
        argv[n++] = extra_keys[i];
    argv[n++] = cr_arena_lld(a, cr_config_int("QUEUE_ACTIVE_MAX"));
    argv[n++] = cr_arena_lld(a, cr_config_int("QUEUE_ACTIVE_TTL") * 1000);
    argv[n++] = cr_arena_lld(a, cr_config_int("QUEUE_WAIT_IDLE_TTL") * 1000);
    argv[n++] = cr_arena_lld(a, cr_time_now_ms());
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    return cr_redis_eval(a, reply, s, 5 + nextra_keys, n, argv);
}

static long long cr_queue_int(redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* Fills out from status()'s reply; CR_E_TOKEN_INVALID when the token is gone. */
static int cr_queue_ticket(redisReply *r, struct cr_queue_ticket *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || cr_queue_int(r->element[0]) != 1)
        return CR_E_TOKEN_INVALID;
    if (r->elements < 10 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING || r->element[3]->type != REDIS_REPLY_STRING)
        return CR_E_INTERNAL;
    memset(out, 0, sizeof(*out));
    snprintf(out->token, sizeof(out->token), "%s", r->element[1]->str);
    if (cr_uuid_parse(r->element[2]->str, &out->user) != CR_OK)
        return CR_E_INTERNAL;
    out->active = strcmp(r->element[3]->str, "A") == 0;
    out->position = cr_queue_int(r->element[4]);
    out->expires_at = cr_queue_int(r->element[5]);
    out->wait_seconds = cr_queue_estimate(
        out->position, cr_queue_int(r->element[6]), cr_queue_int(r->element[7]),
        cr_queue_int(r->element[8]), cr_config_int("QUEUE_ACTIVE_MAX"),
        cr_config_int("QUEUE_ACTIVE_TTL"));
    out->created = (int)cr_queue_int(r->element[9]);
    return CR_OK;
}

/* 256 bits from the OS as unpadded base64url. */
static int cr_queue_new_token(char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33];
    if (cr_random_bytes(raw, 32) != CR_OK)
        return CR_E_INTERNAL;
    raw[32] = 0;
    int n = 0;
    for (int i = 0; i < 33; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[n++] = b64[v >> 18 & 63];
        out[n++] = b64[v >> 12 & 63];
        out[n++] = b64[v >> 6 & 63];
        out[n++] = b64[v & 63];
    }
    out[CR_QUEUE_TOKEN_LEN] = '\0'; /* 32 bytes need 43 characters; drop the padding one */
    return CR_OK;
}

int cr_queue_timed(void)
{
    return strcmp(cr_config_get("QUEUE_MODE"), "timed") == 0;
}

int cr_queue_join(struct cr_arena *a, const struct cr_uuid *user, int vouched,
                  struct cr_queue_ticket *out)
{
    if (cr_queue_timed())
        return cr_tqueue_join(a, user, vouched, out);
    char token[45], uid[CR_UUID_STRLEN];
    redisReply *r = NULL;
    int rc = cr_queue_new_token(token);
    if (rc != CR_OK)
        return rc;
    cr_uuid_format(user, uid);
    const char *keys[] = {"{q}:known", "{q}:users"};
    const char *args[] = {token, uid, vouched ? "1" : "0"};
    if ((rc = cr_queue_run(a, &r, &cr_queue_join_lua, 2, keys, 3, args)) != CR_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && cr_queue_int(r->element[0]) == -1)
        return CR_E_NOT_FOUND; /* not in {q}:users: the caller asks MariaDB */
    rc = cr_queue_ticket(r, out);
    return rc == CR_E_TOKEN_INVALID ? CR_E_INTERNAL : rc;
}

int cr_queue_know_user(struct cr_arena *a, const struct cr_uuid *user)
{
    char uid[CR_UUID_STRLEN];
    redisReply *r = NULL;
    cr_uuid_format(user, uid);
    if (cr_queue_timed())
        return cr_tqueue_know_user(a, uid);
    return cr_redis_cmd(a, &r, "HSETNX {q}:known %s %s", uid, "");
}

int cr_queue_poll(struct cr_arena *a, const char *token, struct cr_queue_ticket *out)
{
    if (cr_queue_timed())
        return cr_tqueue_poll(a, token, out);
    redisReply *r = NULL;
    const char *args[] = {token};
    int rc = cr_queue_run(a, &r, &cr_queue_poll_lua, 0, NULL, 1, args);
    if (rc != CR_OK)
        return rc;
    return cr_queue_ticket(r, out);
}

int cr_queue_leave(struct cr_arena *a, const char *token, int used)
{
    if (cr_queue_timed())
        return cr_tqueue_leave(a, token, used);
    redisReply *r = NULL;
    const char *args[] = {token, used ? "1" : "0", CR_QUEUE_USED_TTL_MS};
    return cr_queue_run(a, &r, &cr_queue_leave_lua, 0, NULL, 3, args);
}

int cr_queue_maintain(struct cr_arena *a, long long *expired, long long *idle,
                      long long *admitted)
{
    redisReply *r = NULL;
    int rc = cr_queue_run(a, &r, &cr_queue_maintain_lua, 0, NULL, 0, NULL);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return CR_E_INTERNAL;
    *expired = cr_queue_int(r->element[0]);
    *idle = cr_queue_int(r->element[1]);
    *admitted = cr_queue_int(r->element[2]);
    return CR_OK;
}

/* One HMGET for a live token (every gated request), and only when it is gone a GET of the
 * record of spent tokens: plain commands rather than a script, which cost Redis several times
 * the CPU of the lookup itself (bench/RESULTS.md). The leave script drops a token and records
 * it as spent in one step, so no order of these two reads can miss both. */
int cr_queue_lookup(struct cr_arena *a, const char *token, int local_only,
                    struct cr_caller *caller)
{
    if (cr_queue_timed())
        return cr_tqueue_lookup(a, token, local_only, caller);
    redisReply *r = NULL;
    int rc = cr_redis_cmd(a, &r, "HMGET {q}:tok:%s user state", token);
    if (rc != CR_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        if (cr_uuid_parse(r->element[0]->str, &caller->user) != CR_OK)
            return CR_E_TOKEN_INVALID;
        caller->token = token;
        caller->active = strcmp(r->element[1]->str, "A") == 0;
        caller->used = 0;
        return CR_OK;
    }
    if ((rc = cr_redis_cmd(a, &r, "GET {q}:used:%s", token)) != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_STRING || cr_uuid_parse(r->str, &caller->user) != CR_OK)
        return CR_E_TOKEN_INVALID;
    caller->token = token;
    caller->active = 0;
    caller->used = 1;
    return CR_E_TOKEN_INVALID;
}

/* What /metrics shows of the line, read in one script so the three agree: the waiters, the
 * active tokens whose time has not run out, the admissions counter. The timed mode has its
 * own (cr_tqueue_gauges). */
static struct cr_redis_script cr_queue_gauges_lua = {
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "return {redis.call('ZCARD', '{q}:wait'), redis.call('ZCOUNT', '{q}:active', '(' .. now, '+inf'),\n"
    "        tonumber(redis.call('GET', '{q}:admitted') or '0')}\n",
    ""};

int cr_queue_gauges(struct cr_arena *a, long long *waiting, long long *active,
                    long long *admitted)
{
    redisReply *r = NULL;
    int rc = cr_queue_timed() ? cr_tqueue_gauges(a, waiting, active, admitted)
                              : cr_redis_eval(a, &r, &cr_queue_gauges_lua, 0, 0, NULL);
    if (rc != CR_OK)
        return rc;
    if (r) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
            return CR_E_INTERNAL;
        *waiting = cr_queue_int(r->element[0]);
        *active = cr_queue_int(r->element[1]);
        *admitted = cr_queue_int(r->element[2]);
    }
    if (*waiting < 0)
        *waiting = 0;
    if (*active < 0)
        *active = 0;
    if (*admitted < 0)
        *admitted = 0;
    return CR_OK;
}
