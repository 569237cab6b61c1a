/* expire.c: concert-expire, run by cron every minute and safe to run by hand or twice at
 * once: releases holds whose time ran out, drops expired tokens and idle waiters, admits
 * waiting users into the freed places, retries unwritten payment history. Prints one JSON
 * summary line; exits 0 when every pass ran. */
#include <stdio.h>
#include <string.h>

#include "cr_arena.h"
#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_hold.h"
#include "cr_log.h"
#include "cr_metrics.h"
#include "cr_outbox.h"
#include "cr_queue.h"
#include "cr_redis.h"
#include "cr_time.h"
#include "cr_tqueue.h"

struct expire_summary {
    long long holds_released, tokens_expired, waiters_dropped, users_admitted, history_written;
    struct cr_tqueue_stats timed; /* QUEUE_MODE=timed: what the mode measured */
    int failed;
};

/* Holds whose time ran out: reservation EXPIRED, seat AVAILABLE, in batches. Each release is
 * a conditional update only one copy of the job can win, so each is counted once. */
static void expire_holds(struct cr_arena *a, struct expire_summary *s)
{
    if (cr_hold_expire_batch(a, cr_time_now_ms(), CR_HOLD_EXPIRE_BATCH, &s->holds_released) !=
        CR_OK) {
        cr_log_error("releasing expired holds failed");
        s->failed = 1;
    }
}

/* Payment history rows the post-commit step did not write: every PENDING outbox row, each
 * written exactly once even with another copy of the job (or a payment) at it. */
static void expire_outbox(struct expire_summary *s)
{
    if (cr_outbox_drain(&s->history_written) != CR_OK) {
        cr_log_error("writing pending payment history failed");
        s->failed = 1;
    }
}

/* The line: one atomic script, so two copies of the job cannot admit past the cap. In the timed
 * mode nothing waits to be admitted: the pass prunes the record of given-back and used tokens
 * and reports the schedule. */
static void expire_queue(struct cr_arena *a, struct expire_summary *s)
{
    if (cr_queue_timed()) {
        if (cr_tqueue_maintain(a, &s->timed) != CR_OK) {
            cr_log_error("timed queue maintenance failed");
            s->failed = 1;
        }
        return;
    }
    if (cr_queue_maintain(a, &s->tokens_expired, &s->waiters_dropped, &s->users_admitted) !=
        CR_OK) {
        cr_log_error("queue maintenance failed");
        s->failed = 1;
    }
}

int main(void)
{
    char err[256];
    struct expire_summary s;
    memset(&s, 0, sizeof(s));
    if (cr_config_load(NULL, err, sizeof(err)) != CR_OK) {
        fprintf(stderr, "concert-expire: config: %s\n", err);
        return 1;
    }
    cr_log_open("expire", cr_config_get("LOG_FILE"), cr_config_get("LOG_LEVEL"));
    cr_metrics_open("expire"); /* the holds it releases count in concert_holds_total */
    struct cr_arena *a = cr_arena_new();
    int64_t start = cr_time_mono_ms();

    expire_holds(a, &s);
    expire_queue(a, &s);
    expire_outbox(&s);

    char ts[CR_TIME_LEN], queue[256];
    if (cr_queue_timed())
        snprintf(queue, sizeof(queue),
                 "\"queueMode\":\"timed\",\"revokedPruned\":%lld,\"revokedLive\":%lld,"
                 "\"tokensIssued\":%lld,\"backlogSeconds\":%lld",
                 s.timed.pruned, s.timed.revoked, s.timed.issued, s.timed.backlog_seconds);
    else
        snprintf(queue, sizeof(queue),
                 "\"queueMode\":\"redis\",\"tokensExpired\":%lld,\"waitersDropped\":%lld,"
                 "\"usersAdmitted\":%lld",
                 s.tokens_expired, s.waiters_dropped, s.users_admitted);
    printf("{\"time\":\"%s\",\"holdsReleased\":%lld,%s,\"historyWritten\":%lld,"
           "\"ok\":%s,\"ms\":%lld}\n",
           cr_time_format(cr_time_now_ms(), ts), s.holds_released, queue, s.history_written,
           s.failed ? "false" : "true", (long long)(cr_time_mono_ms() - start));
    cr_arena_free(a);
    cr_metrics_close();
    cr_db_close();
    cr_redis_close();
    cr_log_close();
    return s.failed ? 1 : 0;
}
