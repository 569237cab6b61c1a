/* cr_tqueue.c: the timed mode as Lua scripts over a few Redis keys:
 *   {q}:t        HASH, all that a join reads and writes, so that it is one HMGET and one HSET:
 *                  tat   the GCRA "theoretical arrival time" (us): one emission interval
 *                        T = 1/R past the last admission slot handed out
 *                  last  the admission time (us) of the latest token: nobody later goes before it
 *                  seq   arrival numbers (tokens issued)
 *                  cp    the admission time (ms) of the latest checkpoint ({q}:t:cp)
 *                  clk   the latest clock a join brought (us): time as the schedule sees it
 *                  <user> "seq:admit_ms:exp_ms" of the user's latest token (a re-join gets the
 *                        same token back while it lives: signing is deterministic), or "" for a
 *                        user known to exist with no token: the timed mode's known users
 *   {q}:t:cp     ZSET seq -> admission time (ms): a checkpoint every 10 ms of admission times
 *                (at most 100 a second whatever the crowd), from which /metrics counts the
 *                tokens waiting and active (admission times only grow with the arrival number)
 *   {q}:t:rev    ZSET "<seq>-<user>:G" (given back) / "<seq>-<user>:U" (used by a payment) ->
 *                the token's expiry (ms): the small set the non-reading endpoints consult. The
 *                user is part of the name because arrival numbers may repeat after Redis
 *                loses its last second of writes (AOF everysec) in a crash.
 *   {q}:t:gw     ZSET "<seq>-<user>" -> admission time (ms) of tokens given back or used before
 *                their admission time, until that time (/metrics)
 *   {q}:t:gone   count of tokens given back or used before their admission time (/metrics)
 *   {q}:users    the known users of the default mode: a join asks it (once per user) when
 *                {q}:t does not know the user yet
 * A join is stamped with the worker's clock (passed to the script), not Redis's TIME, and the
 * script never lets that time go back (clk): on one machine it is the same clock; across
 * hosts, NTP keeps them within milliseconds, the same bound the token check relies on. A
 * clock more than a second ahead of the latest seen is checked against TIME (a second
 * command, after every quiet second only), so a host whose clock is far ahead cannot push
 * the schedule: the skew the schedule accepts is at most a second. Order stays fair whatever the skew: a token is
 * never admitted before the previous one ("last"), so admission order is arrival order at
 * Redis. The other scripts use Redis's TIME (they are not on the hot path). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_redis.h"
#include "cr_time.h"
#include "cr_tqueue.h"

#define CR_TQ_REV "{q}:t:rev"
#define CR_TQ_STATE "{q}:t"
#define CR_TQ_CP "{q}:t:cp"

int cr_tqueue_init(char *err, size_t errlen)
{
    if (cr_config_int("QUEUE_ADMIT_PER_SECOND") < 1) {
        snprintf(err, errlen, "QUEUE_ADMIT_PER_SECOND must be at least 1");
        return CR_E_INVALID;
    }
    return cr_ttoken_keys_load(cr_config_get("QUEUE_TOKEN_KEYS"), err, errlen);
}

/* Emission interval in microseconds (at least 1). */
static long long cr_tqueue_interval_us(void)
{
    long long r = cr_config_int("QUEUE_ADMIT_PER_SECOND");
    return r < 1 ? 1000000 : (1000000 + r - 1) / r;
}

void cr_tqueue_place(long long admit_ms, long long seq, long long now_ms, double rate,
                     long long *position, long long *wait_seconds)
{
    if (admit_ms <= now_ms) {
        *position = 0;
        *wait_seconds = 0;
        return;
    }
    /* Those ahead are admitted one every 1/R seconds until its own time comes. */
    long long ahead = (long long)floor((double)(admit_ms - now_ms) * rate / 1000.0);
    if (ahead > seq - 1)
        ahead = seq - 1;
    *position = ahead + 1;
    *wait_seconds = (admit_ms - now_ms + 999) / 1000;
}

/* KEYS: {q}:t, {q}:users, {q}:t:cp. ARGV: user, vouched, T (us), B, active TTL (ms), now (us),
 * how far back {q}:t:cp is kept (ms).
 * Returns {0, "seq:admit:exp", now_ms} for the live token, {1, ..., now_ms} for a new one,
 * {-1} for a user known neither to {q}:t nor to {q}:users (the caller asks MariaDB and calls
 * again vouched). A known user's join runs two commands (HMGET, HSET), plus a checkpoint at
 * most once per 10 ms of admission times, and TIME after a quiet second.
 * src/redis/crq.c is the same as a native command, CRQ.JOIN: keep the two the same
 * (tests/http/test_tqueue_native.c compares them). */
static struct cr_redis_script cr_tqueue_join_lua = {
    "local h = redis.call('HMGET', KEYS[1], 'tat', 'last', 'seq', 'cp', ARGV[1], 'clk')\n"
    /* A clock more than a second past the latest one seen is checked against Redis's TIME
     * (once after every quiet second, so rarely in a crowd): a host whose clock ran far ahead
     * must not push every later admission after its own. */
    "local now, clk = tonumber(ARGV[6]), tonumber(h[6] or '0')\n"
    "if now > clk + 1000000 then\n"
    "  local tm = redis.call('TIME')\n"
    "  local rt = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
    "  if now > rt + 1000000 then now = rt end\n"
    "end\n"
    /* the latest clock seen: a join stamped a little earlier by another worker but run later
     * must not find itself behind the token issued before it (and come back WAITING) */
    "now = math.max(now, clk)\n"
    "local now_ms = math.floor(now / 1000)\n"
    "local cur = h[5]\n"
    "if cur and cur ~= '' and tonumber(string.match(cur, '(%d+)$')) > now_ms then\n"
    "  return {0, cur, now_ms}\n"
    "end\n"
    "if not cur and ARGV[2] ~= '1' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then\n"
    "  return {-1}\n"
    "end\n"
    "local T, B = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local tat, last = tonumber(h[1] or '0'), tonumber(h[2] or '0')\n"
    "local seq = tonumber(h[3] or '0') + 1\n"
    /* GCRA with burst tolerance (B-1)T: B at once, then one every T; never before the
     * previous token (places handed back may have pulled tat below it). */
    "local admit = math.max(now, tat - (B - 1) * T, last)\n"
    "local admit_ms = math.floor(admit / 1000)\n"
    "local exp_ms = admit_ms + tonumber(ARGV[5])\n"
    "local v = string.format('%d:%d:%d', seq, admit_ms, exp_ms)\n"
    "local cp = tonumber(h[4] or '0')\n"
    "if admit_ms >= cp + 10 then\n"
    "  cp = admit_ms\n"
    "  redis.call('ZADD', KEYS[3], string.format('%d', cp), string.format('%d', seq))\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf',\n"
    "             string.format('(%d', now_ms - tonumber(ARGV[7])))\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', math.max(tat, now) + T),\n"
    "           'last', string.format('%.0f', admit), 'seq', string.format('%d', seq),\n"
    "           'cp', string.format('%d', cp), 'clk', string.format('%.0f', now), ARGV[1], v)\n"
    "return {1, v, now_ms}\n",
    ""};

static long long cr_tqueue_native_retry_ms; /* CRQ.JOIN was unknown: the script until then */

const char *cr_tqueue_join_script(void)
{
    return cr_tqueue_join_lua.source;
}

/* KEYS: rev, {q}:t, gw, gone. ARGV: "<seq>-<user>", exp_ms, G|U, T (us), user, seq,
 * admit_ms.
 * Records the token once (1), or finds it recorded already (0); a first record frees the
 * user for a new token and hands the place on: tat moves back one interval. */
static struct cr_redis_script cr_tqueue_leave_lua = {
    "local s = redis.call('ZMSCORE', KEYS[1], ARGV[1] .. ':G', ARGV[1] .. ':U')\n"
    "if s[1] or s[2] then return 0 end\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1] .. ':' .. ARGV[3])\n"
    "local h = redis.call('HMGET', KEYS[2], 'tat', ARGV[5])\n"
    "local f = {}\n"
    "if h[2] and string.sub(h[2], 1, #ARGV[6] + 1) == ARGV[6] .. ':' then\n"
    "  f = {ARGV[5], ''}\n" /* still known to exist, without a token */
    "end\n"
    "local tat = tonumber(h[1] or '0')\n"
    "if tat > 0 then\n"
    "  f[#f + 1] = 'tat'\n"
    "  f[#f + 1] = string.format('%.0f', tat - tonumber(ARGV[4]))\n"
    "end\n"
    "if #f > 0 then redis.call('HSET', KEYS[2], unpack(f)) end\n"
    "local tm = redis.call('TIME')\n"
    "local now_ms = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "if tonumber(ARGV[7]) > now_ms then\n"
    "  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[1])\n"
    "  redis.call('INCR', KEYS[4])\n"
    "end\n"
    "return 1\n",
    ""};

/* KEYS: rev, {q}:t, gw. ARGV: B, T (us). {pruned, left, issued, backlog us}. */
static struct cr_redis_script cr_tqueue_maintain_lua = {
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
    "local pruned = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', math.floor(now / 1000))\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', math.floor(now / 1000))\n"
    "local h = redis.call('HMGET', KEYS[2], 'seq', 'tat')\n"
    "local backlog = tonumber(h[2] or '0') - (tonumber(ARGV[1]) - 1) * tonumber(ARGV[2]) - now\n"
    "if backlog < 0 then backlog = 0 end\n"
    "return {pruned, redis.call('ZCARD', KEYS[1]), tonumber(h[1] or '0'), math.floor(backlog)}\n",
    ""};

/* KEYS: {q}:t, cp, rev, gw, gone. ARGV: T (us), active TTL (ms), checkpoint step (ms).
 * {waiting, active, admitted}. at(t), the tokens admitted by t, is exact from the last token
 * on and between checkpoints 10 ms apart; within 10 ms after a checkpoint it assumes one token
 * every T (exact in a backlog; a burst admitted at once may be counted a few ms late). */
static struct cr_redis_script cr_tqueue_gauges_lua = {
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "local h = redis.call('HMGET', KEYS[1], 'seq', 'last')\n"
    "local S = tonumber(h[1] or '0')\n"
    "local last = math.floor(tonumber(h[2] or '0') / 1000)\n"
    "local T, step = tonumber(ARGV[1]) / 1000, tonumber(ARGV[3])\n"
    "local function at(t)\n"
    "  if t >= last then return S end\n"
    "  local c = redis.call('ZREVRANGEBYSCORE', KEYS[2], t, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)\n"
    "  local n = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. t, '+inf', 'LIMIT', 0, 1)\n"
    "  local upto = (n[1] and tonumber(n[1]) or S + 1) - 1\n"
    "  if not c[1] or t >= tonumber(c[2]) + step then return upto end\n"
    "  return math.min(upto, tonumber(c[1]) + math.floor((t - tonumber(c[2])) / T))\n"
    "end\n"
    "local a_now, a_old = at(now), at(now - tonumber(ARGV[2]))\n"
    "local gw = redis.call('ZCOUNT', KEYS[4], '(' .. now, '+inf')\n"
    "local rv = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')\n"
    "local gone = tonumber(redis.call('GET', KEYS[5]) or '0')\n"
    "return {S - a_now - gw, a_now - a_old - (rv - gw), a_now - (gone - gw)}\n",
    ""};

static long long cr_tqueue_int(redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* The ticket of token t (already signed into out->token) at now_ms. */
static void cr_tqueue_ticket(const struct cr_ttoken *t, long long now_ms,
                             struct cr_queue_ticket *out)
{
    out->user = t->user;
    out->active = t->admit_ms <= now_ms;
    cr_tqueue_place(t->admit_ms, t->seq, now_ms, (double)cr_config_int("QUEUE_ADMIT_PER_SECOND"),
                    &out->position, &out->wait_seconds);
    out->expires_at = t->exp_ms;
}

int cr_tqueue_join(struct cr_arena *a, const struct cr_uuid *user, int vouched,
                   struct cr_queue_ticket *out)
{
    char uid[CR_UUID_STRLEN];
    redisReply *r = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    long long ttl_ms = cr_config_int("QUEUE_ACTIVE_TTL") * 1000;
    cr_uuid_format(user, uid);
    const char *argv[] = {CR_TQ_STATE, "{q}:users", CR_TQ_CP, uid, vouched ? "1" : "0",
                          cr_arena_lld(a, cr_tqueue_interval_us()),
                          cr_arena_lld(a, cr_config_int("QUEUE_ACTIVE_MAX")),
                          cr_arena_lld(a, ttl_ms),
                          cr_arena_lld(a, now_us),
                          /* at(now - TTL) needs the checkpoint before it; a minute to spare */
                          cr_arena_lld(a, ttl_ms + 60000)};
    /* CRQ.JOIN (src/redis/crq.c) where Redis has the module, else the script; a Redis without
     * it is asked again a minute later (it may be restarted with it, or a failover may move). */
    int rc = CR_E_NOT_FOUND;
    if (now_us / 1000 >= cr_tqueue_native_retry_ms) {
        rc = cr_redis_native(a, &r, "CRQ.JOIN", 10, argv);
        if (rc == CR_E_NOT_FOUND)
            cr_tqueue_native_retry_ms = now_us / 1000 + 60000;
    }
    if (rc == CR_E_NOT_FOUND)
        rc = cr_redis_eval(a, &r, &cr_tqueue_join_lua, 3, 10, argv);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return CR_E_INTERNAL;
    long long kind = cr_tqueue_int(r->element[0]);
    if (kind == -1)
        return CR_E_NOT_FOUND;
    struct cr_ttoken t;
    memset(&t, 0, sizeof(t));
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING)
        return CR_E_INTERNAL;
    /* "seq:admit:exp", written by the script */
    char *p = r->element[1]->str, *end = NULL;
    t.seq = strtoll(p, &end, 10);
    if (*end == ':')
        t.admit_ms = strtoll(end + 1, &end, 10);
    if (*end == ':')
        t.exp_ms = strtoll(end + 1, &end, 10);
    if (*end != '\0' || t.exp_ms == 0)
        return CR_E_INTERNAL;
    t.user = *user;
    memset(out, 0, sizeof(*out));
    if (cr_ttoken_sign(&t, out->token) != CR_OK)
        return CR_E_INTERNAL;
    cr_tqueue_ticket(&t, cr_tqueue_int(r->element[2]), out);
    out->created = kind == 1;
    return CR_OK;
}

int cr_tqueue_poll(struct cr_arena *a, const char *token, struct cr_queue_ticket *out)
{
    struct cr_ttoken t;
    (void)a;
    if (cr_ttoken_verify(token, &t) != CR_OK)
        return CR_E_TOKEN_INVALID;
    memset(out, 0, sizeof(*out));
    snprintf(out->token, sizeof(out->token), "%s", token);
    cr_tqueue_ticket(&t, cr_time_now_ms(), out);
    return CR_OK;
}

int cr_tqueue_leave(struct cr_arena *a, const char *token, int used)
{
    struct cr_ttoken t;
    char uid[CR_UUID_STRLEN];
    redisReply *r = NULL;
    if (cr_ttoken_verify(token, &t) != CR_OK)
        return CR_OK; /* nothing to record: it never checked */
    cr_uuid_format(&t.user, uid);
    const char *argv[] = {CR_TQ_REV, CR_TQ_STATE, "{q}:t:gw", "{q}:t:gone",
                          cr_arena_sprintf(a, "%lld-%s", t.seq, uid),
                          cr_arena_lld(a, t.exp_ms), used ? "U" : "G",
                          cr_arena_lld(a, cr_tqueue_interval_us()), uid,
                          cr_arena_lld(a, t.seq),
                          cr_arena_lld(a, t.admit_ms)};
    return cr_redis_eval(a, &r, &cr_tqueue_leave_lua, 4, 11, argv);
}

int cr_tqueue_lookup(struct cr_arena *a, const char *token, int local_only,
                     struct cr_caller *caller)
{
    struct cr_ttoken t;
    long long now = cr_time_now_ms();
    if (cr_ttoken_verify(token, &t) != CR_OK || t.exp_ms <= now)
        return CR_E_TOKEN_INVALID;
    caller->token = token;
    caller->user = t.user;
    caller->active = t.admit_ms <= now;
    caller->used = 0;
    if (local_only)
        return CR_OK;
    redisReply *r = NULL;
    char uid[CR_UUID_STRLEN];
    cr_uuid_format(&t.user, uid);
    int rc = cr_redis_cmd(a, &r, "ZMSCORE " CR_TQ_REV " %lld-%s:G %lld-%s:U", t.seq, uid, t.seq,
                          uid);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return CR_E_INTERNAL;
    if (r->element[0]->type != REDIS_REPLY_NIL)
        return CR_E_TOKEN_INVALID;
    if (r->element[1]->type != REDIS_REPLY_NIL) {
        caller->active = 0;
        caller->used = 1;
        return CR_E_TOKEN_INVALID;
    }
    return CR_OK;
}

int cr_tqueue_maintain(struct cr_arena *a, struct cr_tqueue_stats *st)
{
    redisReply *r = NULL;
    const char *argv[] = {CR_TQ_REV, CR_TQ_STATE, "{q}:t:gw",
                          cr_arena_lld(a, cr_config_int("QUEUE_ACTIVE_MAX")),
                          cr_arena_lld(a, cr_tqueue_interval_us())};
    int rc = cr_redis_eval(a, &r, &cr_tqueue_maintain_lua, 3, 5, argv);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return CR_E_INTERNAL;
    st->pruned = cr_tqueue_int(r->element[0]);
    st->revoked = cr_tqueue_int(r->element[1]);
    st->issued = cr_tqueue_int(r->element[2]);
    st->backlog_seconds = (cr_tqueue_int(r->element[3]) + 999999) / 1000000;
    return CR_OK;
}

int cr_tqueue_gauges(struct cr_arena *a, long long *waiting, long long *active,
                     long long *admitted)
{
    redisReply *r = NULL;
    const char *argv[] = {CR_TQ_STATE, CR_TQ_CP, CR_TQ_REV, "{q}:t:gw", "{q}:t:gone",
                          cr_arena_lld(a, cr_tqueue_interval_us()),
                          cr_arena_lld(a, cr_config_int("QUEUE_ACTIVE_TTL") * 1000),
                          "10"};
    int rc = cr_redis_eval(a, &r, &cr_tqueue_gauges_lua, 5, 8, argv);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return CR_E_INTERNAL;
    *waiting = cr_tqueue_int(r->element[0]);
    *active = cr_tqueue_int(r->element[1]);
    *admitted = cr_tqueue_int(r->element[2]);
    return CR_OK;
}

int cr_tqueue_know_user(struct cr_arena *a, const char *uid)
{
    redisReply *r = NULL;
    return cr_redis_cmd(a, &r, "HSETNX " CR_TQ_STATE " %s %s", uid, "");
}
