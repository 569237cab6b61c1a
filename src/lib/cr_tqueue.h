/* cr_tqueue.h: the timed mode of the waiting line (QUEUE_MODE=timed, API.md "The timed
 * mode"): no line is kept; each token is given its admission time when it is issued, by one
 * GCRA step in Redis, and carries it signed (cr_ttoken). Reached through cr_queue.h, which
 * calls these when the mode is timed. */
#ifndef CR_TQUEUE_H
#define CR_TQUEUE_H

#include "cr_http.h"
#include "cr_queue.h"
#include "cr_ttoken.h"

/* Loads QUEUE_TOKEN_KEYS for a process that runs in timed mode. CR_OK or CR_E_INVALID with
 * the reason in err (no key, a key under 32 bytes, a malformed list). */
int cr_tqueue_init(char *err, size_t errlen);

/* One Redis command (CRQ.JOIN of src/redis/crq.c, or the same as a script where Redis lacks
 * that module): the user's live token again (created = 0), or a new one whose admission
 * time is the earliest that keeps "at most B + R*t admitted in any t seconds, plus the places
 * handed back" and is not before any earlier token's. Same codes as cr_queue_join. */
int cr_tqueue_join(struct cr_arena *a, const struct cr_uuid *user, int vouched,
                   struct cr_queue_ticket *out);
/* The token's place now, from the token and the clock alone (the gate has checked it). */
int cr_tqueue_poll(struct cr_arena *a, const char *token, struct cr_queue_ticket *out);
/* Records the token as given back (used = 0) or used by a payment (used = 1), and hands its
 * place on to later arrivals. CR_OK also when it was already recorded. */
int cr_tqueue_leave(struct cr_arena *a, const char *token, int used);
/* Checks a token: signature, expiry, and (unless local_only) the record of tokens given back
 * or used (one Redis command). Fills caller like cr_queue_lookup, active from the clock. */
int cr_tqueue_lookup(struct cr_arena *a, const char *token, int local_only,
                     struct cr_caller *caller);
/* The expiry job's pass: prunes the record of given-back and used tokens whose tokens have
 * expired, and reports what the mode measured. */
struct cr_tqueue_stats {
    long long pruned;          /* records dropped now */
    long long revoked;         /* records left (live tokens given back or used) */
    long long issued;          /* tokens issued since the line began */
    long long backlog_seconds; /* how long a new arrival would wait now */
};
int cr_tqueue_maintain(struct cr_arena *a, struct cr_tqueue_stats *st);
/* What /metrics shows of the mode (cr_queue_gauges): tokens waiting (admission time ahead),
 * active (admitted, not expired, not given back or used) and admitted since the line began,
 * counted from the arrival numbers and the checkpoints of admission times (cr_tqueue.c). */
int cr_tqueue_gauges(struct cr_arena *a, long long *waiting, long long *active,
                     long long *admitted);
/* Records user (a formatted UUID) as known to exist, for joins in timed mode. */
int cr_tqueue_know_user(struct cr_arena *a, const char *uid);

/* The join's Lua script, which CRQ.JOIN must match (tests compare the two). */
const char *cr_tqueue_join_script(void);

/* A waiting token's position and wait from its admission time, the clock and the rate R
 * (API.md: the earlier tokens not yet admitted, plus one; the seconds until admission,
 * rounded up); both 0 once admitted. Pure, for tests. */
void cr_tqueue_place(long long admit_ms, long long seq, long long now_ms, double rate,
                     long long *position, long long *wait_seconds);

#endif
