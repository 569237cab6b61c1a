/* crq.c: the timed queue's join as a native Redis command, loaded by the stack's Redis
 * (loadmodule, scripts/lib.sh). CRQ.JOIN takes the keys and arguments of the join script in
 * src/lib/cr_tqueue.c and does exactly what it does; the worker uses the script wherever
 * the command is unknown (a Redis without the module). tests/http/test_tqueue_native.c runs
 * both on the same inputs and compares every reply and the state they leave.
 *
 * Why: a join is one read-modify-write of the schedule. As a Lua script it cost Redis about
 * 120k instructions, 95k of them Lua's (the VM, interning every argument and reply,
 * strtod and printf for every number); Redis is the one part of the join a crowd cannot
 * spread over more machines (bench/RESULTS.md).
 *
 * The writes go through RedisModule_Call with "!", so the AOF and the replicas receive the
 * HSET and ZADD themselves, never CRQ.JOIN: an AOF loads, and a replica is promoted, whether
 * or not that server has the module.
 *
 * Built without the sanitizers of the rest of the build (Makefile.am): it runs inside
 * redis-server. Only the module API's documented entry point is used: the first word of the
 * context handed to RedisModule_OnLoad is RedisModule_GetApi. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRQ_OK 0
#define CRQ_ERR 1
#define CRQ_APIVER_1 1
#define CRQ_REPLY_STRING 0
#define CRQ_REPLY_ERROR 1
#define CRQ_REPLY_INTEGER 2
#define CRQ_REPLY_ARRAY 3
#define CRQ_REPLY_NULL 4

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleCallReply RedisModuleCallReply;
typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

static int (*GetApi)(const char *name, void *fn);
static int (*SetModuleAttribs)(RedisModuleCtx *ctx, const char *name, int ver, int apiver);
static int (*CreateCommand)(RedisModuleCtx *ctx, const char *name, RedisModuleCmdFunc f,
                            const char *flags, int firstkey, int lastkey, int keystep);
static int (*WrongArity)(RedisModuleCtx *ctx);
static void (*AutoMemory)(RedisModuleCtx *ctx);
static RedisModuleCallReply *(*Call)(RedisModuleCtx *ctx, const char *cmd, const char *fmt, ...);
static int (*CallReplyType)(RedisModuleCallReply *r);
static long long (*CallReplyInteger)(RedisModuleCallReply *r);
static size_t (*CallReplyLength)(RedisModuleCallReply *r);
static RedisModuleCallReply *(*CallReplyArrayElement)(RedisModuleCallReply *r, size_t i);
static const char *(*CallReplyStringPtr)(RedisModuleCallReply *r, size_t *len);
static const char *(*StringPtrLen)(const RedisModuleString *s, size_t *len);
static int (*ReplyWithArray)(RedisModuleCtx *ctx, long len);
static int (*ReplyWithLongLong)(RedisModuleCtx *ctx, long long v);
static int (*ReplyWithStringBuffer)(RedisModuleCtx *ctx, const char *buf, size_t len);
static int (*ReplyWithError)(RedisModuleCtx *ctx, const char *err);

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

/* A decimal integer filling the whole of p[0, n) (what the script's tonumber() accepts of
 * what the script itself wrote); 0 if it is not one. */
static int crq_int(const char *p, size_t n, long long *v)
{
    char buf[32], *end;
    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    *v = strtoll(buf, &end, 10);
    return *end == '\0';
}

static int crq_arg(RedisModuleString *s, long long *v)
{
    size_t n;
    const char *p = StringPtrLen(s, &n);
    return crq_int(p, n, v);
}

/* Field i of the HMGET reply as a number; absent is 0 (the script's "or '0'"). */
static int crq_field(RedisModuleCallReply *h, size_t i, long long *v)
{
    RedisModuleCallReply *e = CallReplyArrayElement(h, i);
    size_t n;
    *v = 0;
    if (CallReplyType(e) == CRQ_REPLY_NULL)
        return 1;
    const char *p = CallReplyStringPtr(e, &n);
    return p != NULL && crq_int(p, n, v);
}

static long long crq_max(long long a, long long b)
{
    return a > b ? a : b;
}

/* CRQ.JOIN {q}:t {q}:users {q}:t:cp user vouched T B ttl_ms now_us keep_ms
 * (the join script's KEYS and ARGV, in the same order; its reply). */
static int crq_join(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    long long now, T, B, ttl, keep, tat, last, seq, cp, clk;
    size_t ulen, vlen;
    if (argc != 11)
        return WrongArity(ctx);
    AutoMemory(ctx);
    RedisModuleString *state = argv[1], *users = argv[2], *cps = argv[3], *user = argv[4];
    const char *vouched = StringPtrLen(argv[5], &vlen);
    StringPtrLen(user, &ulen);
    if (!crq_arg(argv[6], &T) || !crq_arg(argv[7], &B) || !crq_arg(argv[8], &ttl) ||
        !crq_arg(argv[9], &now) || !crq_arg(argv[10], &keep) || ulen == 0)
        return ReplyWithError(ctx, "ERR CRQ.JOIN: bad argument");

    RedisModuleCallReply *h =
        Call(ctx, "HMGET", "scccccs", state, "tat", "last", "seq", "cp", "clk", user);
    if (h == NULL || CallReplyType(h) != CRQ_REPLY_ARRAY || CallReplyLength(h) != 6)
        return ReplyWithError(ctx, "ERR CRQ.JOIN: the schedule is not a hash");
    if (!crq_field(h, 0, &tat) || !crq_field(h, 1, &last) || !crq_field(h, 2, &seq) ||
        !crq_field(h, 3, &cp) || !crq_field(h, 4, &clk))
        return ReplyWithError(ctx, "ERR CRQ.JOIN: the schedule holds a non-number");

    /* A clock more than a second past the latest one seen is checked against Redis's TIME. */
    if (now > clk + 1000000) {
        RedisModuleCallReply *tm = Call(ctx, "TIME", "");
        long long s, us;
        size_t n1, n2;
        const char *p1, *p2;
        if (tm == NULL || CallReplyType(tm) != CRQ_REPLY_ARRAY || CallReplyLength(tm) != 2)
            return ReplyWithError(ctx, "ERR CRQ.JOIN: TIME failed");
        p1 = CallReplyStringPtr(CallReplyArrayElement(tm, 0), &n1);
        p2 = CallReplyStringPtr(CallReplyArrayElement(tm, 1), &n2);
        if (p1 == NULL || p2 == NULL || !crq_int(p1, n1, &s) || !crq_int(p2, n2, &us))
            return ReplyWithError(ctx, "ERR CRQ.JOIN: TIME failed");
        long long rt = s * 1000000 + us;
        if (now > rt + 1000000)
            now = rt;
    }
    now = crq_max(now, clk);
    long long now_ms = now / 1000;

    /* The user's live token, if any: "seq:admit_ms:exp_ms", live while exp_ms > now_ms. */
    RedisModuleCallReply *cur = CallReplyArrayElement(h, 5);
    int known = CallReplyType(cur) != CRQ_REPLY_NULL;
    if (known) {
        size_t n;
        const char *p = CallReplyStringPtr(cur, &n);
        if (p != NULL && n > 0) {
            size_t i = n;
            long long exp;
            while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
                i--;
            if (i == n || !crq_int(p + i, n - i, &exp))
                return ReplyWithError(ctx, "ERR CRQ.JOIN: a user's token is malformed");
            if (exp > now_ms) {
                ReplyWithArray(ctx, 3);
                ReplyWithLongLong(ctx, 0);
                ReplyWithStringBuffer(ctx, p, n);
                ReplyWithLongLong(ctx, now_ms);
                return CRQ_OK;
            }
        }
    }
    if (!known && !(vlen == 1 && vouched[0] == '1')) {
        RedisModuleCallReply *m = Call(ctx, "SISMEMBER", "ss", users, user);
        if (m == NULL || CallReplyType(m) != CRQ_REPLY_INTEGER)
            return ReplyWithError(ctx, "ERR CRQ.JOIN: the known users are not a set");
        if (CallReplyInteger(m) == 0) {
            ReplyWithArray(ctx, 1);
            ReplyWithLongLong(ctx, -1);
            return CRQ_OK;
        }
    }

    /* GCRA with burst tolerance (B-1)T: B at once, then one every T; never before the
     * previous token (places handed back may have pulled tat below it). */
    seq++;
    long long admit = crq_max(crq_max(now, tat - (B - 1) * T), last);
    long long admit_ms = admit / 1000;
    char v[80];
    int vn = snprintf(v, sizeof(v), "%lld:%lld:%lld", seq, admit_ms, admit_ms + ttl);
    if (admit_ms >= cp + 10) {
        char below[32];
        cp = admit_ms;
        snprintf(below, sizeof(below), "(%lld", now_ms - keep);
        Call(ctx, "ZADD", "!sll", cps, cp, seq);
        Call(ctx, "ZREMRANGEBYSCORE", "!scc", cps, "-inf", below);
    }
    RedisModuleCallReply *w = Call(ctx, "HSET", "!sclclclclclsb", state,
                                   "tat", crq_max(tat, now) + T, "last", admit, "seq", seq,
                                   "cp", cp, "clk", now, user, v, (size_t)vn);
    if (w == NULL || CallReplyType(w) != CRQ_REPLY_INTEGER)
        return ReplyWithError(ctx, "ERR CRQ.JOIN: HSET failed");
    ReplyWithArray(ctx, 3);
    ReplyWithLongLong(ctx, 1);
    ReplyWithStringBuffer(ctx, v, (size_t)vn);
    ReplyWithLongLong(ctx, now_ms);
    return CRQ_OK;
}

#define CRQ_API(name) (GetApi("RedisModule_" #name, (void *)&name) == CRQ_OK)

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    (void)argv;
    (void)argc;
    memcpy(&GetApi, (void *)ctx, sizeof(GetApi));
    if (!CRQ_API(SetModuleAttribs) || !CRQ_API(CreateCommand) || !CRQ_API(WrongArity) ||
        !CRQ_API(AutoMemory) || !CRQ_API(Call) || !CRQ_API(CallReplyType) ||
        !CRQ_API(CallReplyInteger) || !CRQ_API(CallReplyLength) ||
        !CRQ_API(CallReplyArrayElement) || !CRQ_API(CallReplyStringPtr) ||
        !CRQ_API(StringPtrLen) || !CRQ_API(ReplyWithArray) || !CRQ_API(ReplyWithLongLong) ||
        !CRQ_API(ReplyWithStringBuffer) || !CRQ_API(ReplyWithError))
        return CRQ_ERR;
    SetModuleAttribs(ctx, "crq", 1, CRQ_APIVER_1);
    /* keys: arguments 1 to 3 (a cluster sends the command to their slot, one tag {q}) */
    return CreateCommand(ctx, "crq.join", crq_join, "write deny-oom", 1, 3, 1);
}
