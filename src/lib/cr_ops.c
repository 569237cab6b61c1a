/* cr_ops.c: GET /metrics's text: counters summed over every worker's slot, gauges read now. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_metrics.h"
#include "cr_ops.h"
#include "cr_queue.h"
#include "cr_time.h"

/* The files summed: the five groups (requests and domain counters) and the expiry job
 * (holds it released). */
static const char *const cr_ops_groups[] = {"queue", "concert", "reservation", "wallet",
                                            "payment"};
#define CR_OPS_NGROUPS (sizeof(cr_ops_groups) / sizeof(cr_ops_groups[0]))
static const char *const cr_ops_jobs[] = {"expire"};
#define CR_OPS_NJOBS (sizeof(cr_ops_jobs) / sizeof(cr_ops_jobs[0]))

/* Seats left of every upcoming schedule, counted as availableSeats is (cr_catalog.c): a hold
 * whose time ran out counts as available. Parameters: now (hold expiry), now (upcoming). */
static const char cr_ops_sql_seats[] =
    "SELECT s.id, s.concert_id,"
    " (SELECT COUNT(*) FROM seats AS t"
    "   WHERE t.schedule_id = s.id"
    "     AND (t.status = 'AVAILABLE' OR (t.status = 'HELD' AND t.hold_expires_at <= ?)))"
    " FROM schedules AS s WHERE s.starts_at > ? ORDER BY s.id";

/* A range of ix_outbox_status (status, id). */
static const char cr_ops_sql_outbox[] = "SELECT COUNT(*) FROM outbox WHERE status = 'PENDING'";

struct cr_ops_buf {
    char *p;
    size_t len, cap;
};

static void cr_ops_printf(struct cr_ops_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cr_ops_printf(struct cr_ops_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
}

static void cr_ops_family(struct cr_ops_buf *b, const char *name, const char *type,
                          const char *help)
{
    cr_ops_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void cr_ops_requests(struct cr_ops_buf *b, const struct cr_metrics_slot *sums)
{
    cr_ops_family(b, "concert_http_requests_total", "counter",
                  "Answers the workers of a group gave, by HTTP status (not /metrics).");
    for (size_t g = 0; g < CR_OPS_NGROUPS; g++) {
        int any = 0;
        for (int c = 0; c < CR_METRICS_NCODES; c++) {
            /* 200 always, so that every group has a series from the start. */
            if (sums[g].requests[c] == 0 && (c != 100 || any))
                continue;
            any = 1;
            cr_ops_printf(b, "concert_http_requests_total{group=\"%s\",code=\"%d\"} %llu\n",
                          cr_ops_groups[g], c + 100, (unsigned long long)sums[g].requests[c]);
        }
    }
    cr_ops_family(b, "concert_http_request_duration_seconds", "histogram",
                  "Time a worker took to answer, from reading the request to writing it.");
    for (size_t g = 0; g < CR_OPS_NGROUPS; g++) {
        unsigned long long cum = 0;
        for (int i = 0; i <= CR_METRICS_NBUCKETS; i++) {
            cum += sums[g].buckets[i];
            if (i < CR_METRICS_NBUCKETS)
                cr_ops_printf(b,
                              "concert_http_request_duration_seconds_bucket{group=\"%s\","
                              "le=\"%g\"} %llu\n",
                              cr_ops_groups[g], (double)cr_metrics_bucket_us[i] / 1e6, cum);
            else
                cr_ops_printf(b,
                              "concert_http_request_duration_seconds_bucket{group=\"%s\","
                              "le=\"+Inf\"} %llu\n",
                              cr_ops_groups[g], cum);
        }
        cr_ops_printf(b, "concert_http_request_duration_seconds_sum{group=\"%s\"} %.6f\n",
                      cr_ops_groups[g], (double)sums[g].duration_us / 1e6);
        cr_ops_printf(b, "concert_http_request_duration_seconds_count{group=\"%s\"} %llu\n",
                      cr_ops_groups[g], cum);
    }
}

static void cr_ops_domain(struct cr_ops_buf *b, const uint64_t *total)
{
    static const char *const outcome[] = {"held", "lost", "expired", "cancelled"};
    static const enum cr_metric which[] = {CR_M_HOLDS_HELD, CR_M_HOLDS_LOST, CR_M_HOLDS_EXPIRED,
                                           CR_M_HOLDS_CANCELLED};
    cr_ops_family(b, "concert_holds_total", "counter",
                  "Seat holds by outcome: held, lost to another buyer, expired, cancelled.");
    for (int i = 0; i < 4; i++)
        cr_ops_printf(b, "concert_holds_total{outcome=\"%s\"} %llu\n", outcome[i],
                      (unsigned long long)total[which[i]]);
    cr_ops_family(b, "concert_payments_total", "counter", "Payments made.");
    cr_ops_printf(b, "concert_payments_total %llu\n",
                  (unsigned long long)total[CR_M_PAYMENTS]);
    cr_ops_family(b, "concert_refunds_total", "counter", "Reservations refunded.");
    cr_ops_printf(b, "concert_refunds_total %llu\n", (unsigned long long)total[CR_M_REFUNDS]);
}

/* The line's gauges and its admissions counter; 0 when Redis does not answer. */
static int cr_ops_queue(struct cr_arena *a, struct cr_ops_buf *b)
{
    long long waiting = 0, active = 0, admitted = 0;
    int rc = cr_queue_gauges(a, &waiting, &active, &admitted);
    if (rc != CR_OK)
        return rc;
    cr_ops_family(b, "concert_queue_waiting", "gauge",
                  "Tokens waiting in line (timed mode: issued, admission time still ahead).");
    cr_ops_printf(b, "concert_queue_waiting %lld\n", waiting);
    cr_ops_family(b, "concert_queue_active", "gauge", "Tokens admitted and still active.");
    cr_ops_printf(b, "concert_queue_active %lld\n", active);
    cr_ops_family(b, "concert_queue_admitted_total", "counter",
                  "Tokens admitted since the line began (kept in Redis).");
    cr_ops_printf(b, "concert_queue_admitted_total %lld\n", admitted);
    return CR_OK;
}

static int cr_ops_db(struct cr_arena *a, struct cr_ops_buf *b)
{
    struct cr_db_rows rows;
    long long now = cr_time_now_ms();
    int rc = cr_db_query(a, cr_ops_sql_outbox, NULL, 0, &rows);
    if (rc != CR_OK)
        return rc;
    cr_ops_family(b, "concert_outbox_pending", "gauge",
                  "Payment-history rows not yet written (retried by the expiry job).");
    cr_ops_printf(b, "concert_outbox_pending %lld\n",
                  rows.nrows == 1 ? CR_DB_CELL(&rows, 0, 0)->i : 0);
    struct cr_db_val p[] = {CR_DB_T(now), CR_DB_T(now)};
    if ((rc = cr_db_query(a, cr_ops_sql_seats, p, 2, &rows)) != CR_OK)
        return rc;
    cr_ops_family(b, "concert_seats_available", "gauge",
                  "Seats left (available, or held past their time) per upcoming schedule.");
    for (int r = 0; r < rows.nrows; r++)
        cr_ops_printf(b, "concert_seats_available{schedule=\"%lld\",concert=\"%lld\"} %lld\n",
                      CR_DB_CELL(&rows, r, 0)->i, CR_DB_CELL(&rows, r, 1)->i,
                      CR_DB_CELL(&rows, r, 2)->i);
    return CR_OK;
}

int cr_ops_metrics_text(struct cr_arena *a, const char **text)
{
    struct cr_ops_buf b = {malloc(16384), 0, 16384};
    /* Static: the slot type is cache-line aligned, which arena memory is not (a worker
     * serves one request at a time). */
    static struct cr_metrics_slot sums[CR_OPS_NGROUPS], one_sum;
    struct cr_metrics_slot *one = &one_sum;
    uint64_t total[CR_M_COUNT] = {0};
    const char *dir = cr_config_get("METRICS_DIR");
    int files_ok = 1;

    if (b.p == NULL)
        abort();
    b.p[0] = '\0';
    for (size_t i = 0; i < CR_OPS_NGROUPS + CR_OPS_NJOBS; i++) {
        struct cr_metrics_slot *s = i < CR_OPS_NGROUPS ? &sums[i] : one;
        const char *name = i < CR_OPS_NGROUPS ? cr_ops_groups[i] : cr_ops_jobs[i - CR_OPS_NGROUPS];
        int rc = *dir != '\0' ? cr_metrics_sum(dir, name, s) : CR_E_NOT_FOUND;
        if (rc == CR_E_INTERNAL) {
            cr_log_warn("metrics file of %s unreadable", name);
            files_ok = 0;
        }
        for (int m = 0; m < CR_M_COUNT; m++)
            total[m] += s->counters[m];
    }
    cr_ops_requests(&b, sums);
    cr_ops_domain(&b, total);
    int redis_ok = cr_ops_queue(a, &b) == CR_OK;
    int db_ok = cr_ops_db(a, &b) == CR_OK;
    cr_ops_family(&b, "concert_scrape_source_up", "gauge",
                  "1 when the source of some of these numbers answered this scrape.");
    cr_ops_printf(&b, "concert_scrape_source_up{source=\"files\"} %d\n", files_ok);
    cr_ops_printf(&b, "concert_scrape_source_up{source=\"redis\"} %d\n", redis_ok);
    cr_ops_printf(&b, "concert_scrape_source_up{source=\"mariadb\"} %d\n", db_ok);
    *text = cr_arena_strndup(a, b.p, b.len);
    free(b.p);
    return CR_OK;
}
