/* cr_tqueue.c: the timed mode as two Lua scripts over a few Redis keys:
 *   {q}:t:tat    the GCRA "theoretical arrival time" (microseconds): one emission interval
 *                T = 1/R past the last admission slot handed out
 *   {q}:t:last   the admission time (us) of the latest token issued: nobody later goes before it
 *   {q}:t:seq    arrival numbers
 *   {q}:t:user:<u> "seq:admit_ms:exp_ms" of the user's live token, expiring with it, so that a
 *                re-join gets the same token back (signing is deterministic)
 *   {q}:t:rev    ZSET "<seq>-<user>:G" (given back) / "<seq>-<user>:U" (used by a payment) ->
 *                the token's expiry (ms): the small set the non-reading endpoints consult. The
 *                user is part of the name because arrival numbers may repeat after Redis
 *                loses its last second of writes (AOF everysec) in a crash.
 *   {q}:t:pend   ZSET "<seq>-<user>" -> admission time (ms) of the tokens not yet admitted,
 *   {q}:t:live   ZSET "<seq>-<user>" -> expiry (ms) of the tokens issued and not expired,
 *   {q}:t:gone   count of tokens given back or used before their admission time: only what
 *                /metrics reads (waiting, active, admitted; cr_tqueue_gauges); trimmed by joins
 *   {q}:users    the known users, shared with the default mode
 * Time is Redis's TIME for issuing, so every process agrees on the schedule; checking a token
 * uses the local clock (hosts keep theirs in step, e.g. with NTP). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_redis.h"
#include "cr_time.h"
#include "cr_tqueue.h"

#define CR_TQ_REV "{q}:t:rev"

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

/* KEYS: tat, last, seq, user:<u>, users, pend, live. ARGV: user, vouched, T (us), B, active
 * TTL (ms).
 * Returns {0, "seq:admit:exp", now_ms} for the live token, {1, ..., now_ms} for a new one,
 * {-1} for a user not in {q}:users (the caller asks MariaDB and calls again vouched). */
static struct cr_redis_script cr_tqueue_join_lua = {
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
    "local now_ms = math.floor(now / 1000)\n"
    "local cur = redis.call('GET', KEYS[4])\n"
    "if cur then return {0, cur, now_ms} end\n"
    "if ARGV[2] == '1' then redis.call('SADD', KEYS[5], ARGV[1])\n"
    "elseif redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 0 then return {-1} end\n"
    "local T, B = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local last = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    /* GCRA with burst tolerance (B-1)T: B at once, then one every T; never before the
     * previous token (places handed back may have pulled tat below it). */
    "local admit = math.max(now, tat - (B - 1) * T, last)\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', math.max(tat, now) + T))\n"
    "redis.call('SET', KEYS[2], string.format('%.0f', admit))\n"
    "local seq = redis.call('INCR', KEYS[3])\n"
    "local admit_ms = math.floor(admit / 1000)\n"
    "local exp_ms = admit_ms + tonumber(ARGV[5])\n"
    "local v = string.format('%d:%d:%d', seq, admit_ms, exp_ms)\n"
    "redis.call('SET', KEYS[4], v, 'PXAT', string.format('%d', exp_ms))\n"
    "local m = string.format('%d-%s', seq, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now_ms)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now_ms)\n"
    "if admit_ms > now_ms then redis.call('ZADD', KEYS[6], admit_ms, m) end\n"
    "redis.call('ZADD', KEYS[7], exp_ms, m)\n"
    "return {1, v, now_ms}\n",
    ""};

/* KEYS: rev, user:<u>, tat, pend, live, gone. ARGV: "<seq>-<user>", exp_ms, G|U, T (us).
 * Records the token once (1), or finds it recorded already (0); a first record frees the
 * user for a new token and hands the place on: tat moves back one interval. */
static struct cr_redis_script cr_tqueue_leave_lua = {
    "local s = redis.call('ZMSCORE', KEYS[1], ARGV[1] .. ':G', ARGV[1] .. ':U')\n"
    "if s[1] or s[2] then return 0 end\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1] .. ':' .. ARGV[3])\n"
    "local cur = redis.call('GET', KEYS[2])\n"
    "local seq = string.match(ARGV[1], '^(%d+)-')\n"
    "if cur and string.sub(cur, 1, #seq + 1) == seq .. ':' then\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "local tat = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
    "if tat > 0 then\n"
    "  redis.call('SET', KEYS[3], string.format('%.0f', tat - tonumber(ARGV[4])))\n"
    "end\n"
    "if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then redis.call('INCR', KEYS[6]) end\n"
    "redis.call('ZREM', KEYS[5], ARGV[1])\n"
    "return 1\n",
    ""};

/* KEYS: rev, seq, tat. ARGV: B, T (us). {pruned, left, issued, backlog us}. */
static struct cr_redis_script cr_tqueue_maintain_lua = {
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
    "local pruned = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', math.floor(now / 1000))\n"
    "local tat = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
    "local backlog = tat - (tonumber(ARGV[1]) - 1) * tonumber(ARGV[2]) - now\n"
    "if backlog < 0 then backlog = 0 end\n"
    "return {pruned, redis.call('ZCARD', KEYS[1]),\n"
    "        tonumber(redis.call('GET', KEYS[2]) or '0'), math.floor(backlog)}\n",
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
    cr_uuid_format(user, uid);
    const char *argv[] = {
        "{q}:t:tat", "{q}:t:last", "{q}:t:seq", cr_arena_sprintf(a, "{q}:t:user:%s", uid),
        "{q}:users", "{q}:t:pend", "{q}:t:live", uid, vouched ? "1" : "0",
        cr_arena_sprintf(a, "%lld", cr_tqueue_interval_us()),
        cr_arena_sprintf(a, "%lld", cr_config_int("QUEUE_ACTIVE_MAX")),
        cr_arena_sprintf(a, "%lld", cr_config_int("QUEUE_ACTIVE_TTL") * 1000)};
    int rc = cr_redis_eval(a, &r, &cr_tqueue_join_lua, 7, 12, argv);
    if (rc != CR_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return CR_E_INTERNAL;
    long long kind = cr_tqueue_int(r->element[0]);
    if (kind == -1)
        return CR_E_NOT_FOUND;
    struct cr_ttoken t;
    memset(&t, 0, sizeof(t));
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING ||
        sscanf(r->element[1]->str, "%lld:%lld:%lld", &t.seq, &t.admit_ms, &t.exp_ms) != 3)
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
    const char *argv[] = {CR_TQ_REV, cr_arena_sprintf(a, "{q}:t:user:%s", uid), "{q}:t:tat",
                          "{q}:t:pend", "{q}:t:live", "{q}:t:gone",
                          cr_arena_sprintf(a, "%lld-%s", t.seq, uid),
                          cr_arena_sprintf(a, "%lld", t.exp_ms), used ? "U" : "G",
                          cr_arena_sprintf(a, "%lld", cr_tqueue_interval_us())};
    return cr_redis_eval(a, &r, &cr_tqueue_leave_lua, 6, 10, argv);
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
    const char *argv[] = {CR_TQ_REV, "{q}:t:seq", "{q}:t:tat",
                          cr_arena_sprintf(a, "%lld", cr_config_int("QUEUE_ACTIVE_MAX")),
                          cr_arena_sprintf(a, "%lld", cr_tqueue_interval_us())};
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
