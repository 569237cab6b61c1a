/* cr_queue.h: the waiting line in Redis: tokens, admission, positions and wait estimates.
 *
 * Every change to the line (join, poll, leave, use, maintain) is one Lua script, so no two
 * processes can admit past QUEUE_ACTIVE_MAX or out of arrival order. All keys share the hash
 * tag {q}, so the line works on a Redis Cluster unchanged. */
#ifndef CR_QUEUE_H
#define CR_QUEUE_H

#include "cr_http.h"
#include "cr_ttoken.h"

#define CR_QUEUE_TOKEN_LEN 43 /* the default mode's token: 256 random bits, unpadded base64url */

/* What a client sees of its place in line. */
struct cr_queue_ticket {
    char token[CR_TTOKEN_STRLEN]; /* either mode's token (the timed one is the longer) */
    struct cr_uuid user;
    int active;
    long long position;     /* 1 = head of the line, 0 when active */
    long long wait_seconds; /* 0 when active */
    long long expires_at;   /* ms: idle deadline when waiting, end of active time when active */
    int created;            /* 1 when join made a new token */
};

/* Gives user a place in line, or returns its live token (created = 0). Admits at once when
 * there is room. The user must be known to exist: with vouched = 0 the line's own record of
 * known users ({q}:known, or {q}:t in timed mode; then the older set {q}:users) decides, and
 * a user in none gets CR_E_NOT_FOUND (nothing
 * changed: look it up in MariaDB and call again with vouched = 1, which records it).
 * CR_OK, CR_E_NOT_FOUND or CR_E_UNAVAILABLE. */
int cr_queue_join(struct cr_arena *a, const struct cr_uuid *user, int vouched,
                  struct cr_queue_ticket *out);
/* Records that user exists (the wallet, after creating it), so that its first join needs no
 * database lookup. CR_OK or a Redis error (harmless: the join falls back to MariaDB). */
int cr_queue_know_user(struct cr_arena *a, const struct cr_uuid *user);
/* Recomputes a token's state now: admits from the head when places are free, and pushes a
 * waiting token's idle deadline forward. CR_E_TOKEN_INVALID when the token is gone. */
int cr_queue_poll(struct cr_arena *a, const char *token, struct cr_queue_ticket *out);
/* Gives a token back (the user leaves the line or frees its active place) and admits the
 * next waiter. used = 1 records the token as spent by a payment for 24 hours, so that a
 * retried payment can still be recognised (see cr_queue_lookup). CR_OK even when the
 * token was already gone. */
int cr_queue_leave(struct cr_arena *a, const char *token, int used);
/* The cron job's pass: drops expired active tokens and idle waiters, admits into the freed
 * places. Counts of each go to the out parameters. Default mode only (see cr_tqueue.h). */
int cr_queue_maintain(struct cr_arena *a, long long *expired, long long *idle,
                      long long *admitted);

/* The line as /metrics shows it, in either mode: tokens waiting, tokens active now, and every
 * admission so far (a counter kept in Redis, exact across workers). CR_OK or a Redis error. */
int cr_queue_gauges(struct cr_arena *a, long long *waiting, long long *active,
                    long long *admitted);

/* Looks a token up (one Redis round trip) and fills caller. CR_OK; CR_E_TOKEN_INVALID for an
 * unknown, expired or given-back token (for a token spent by a payment, caller->user and
 * caller->used are still filled in); CR_E_UNAVAILABLE. In the timed mode local_only = 1 checks
 * the token by itself, without Redis (the reading routes). */
int cr_queue_lookup(struct cr_arena *a, const char *token, int local_only,
                    struct cr_caller *caller);

/* 1 when QUEUE_MODE is timed (cr_tqueue.h does the work), 0 for the default mode. */
int cr_queue_timed(void);

/* Seconds a waiter at position can expect to wait: position divided by the admission rate
 * measured over the recent window (admitted tokens between oldest_ms and now_ms); with too
 * little history, the worst case of a full active TTL per QUEUE_ACTIVE_MAX places. Never
 * decreasing in position for one (admitted, oldest_ms, now_ms). */
long long cr_queue_estimate(long long position, long long admitted, long long oldest_ms,
                            long long now_ms, long long active_max, long long active_ttl_s);

#endif
