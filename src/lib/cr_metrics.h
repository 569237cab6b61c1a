/* cr_metrics.h: counters and latency histograms every process keeps in a shared file, summed
 * when /metrics is scraped.
 *
 * Each group (and each job) has one file, METRICS_DIR/<name>.metrics: an array of
 * CR_METRICS_SLOTS slots of counters, mapped shared by every worker of the group. A worker
 * claims a free slot when it starts (an open-file-description lock on the slot's byte range,
 * which the kernel drops when the worker dies, even by kill -9) and only ever adds to it with
 * relaxed atomic increments: no lock, no system call, no round trip on a request. A restarted
 * worker claims a free slot again and adds to what is there, so the sums never go down while
 * the file lives. Without METRICS_DIR (tests of a group alone) the counters live in the
 * process's own memory. */
#ifndef CR_METRICS_H
#define CR_METRICS_H

#include <stdint.h>

/* The domain counters (API.md "Pages and operations endpoints"). */
enum cr_metric {
    CR_M_HOLDS_HELD,      /* a seat held (201) */
    CR_M_HOLDS_LOST,      /* a hold refused because someone else had the seat (409) */
    CR_M_HOLDS_EXPIRED,   /* a hold released because its time ran out */
    CR_M_HOLDS_CANCELLED, /* a hold given up by its user */
    CR_M_PAYMENTS,        /* a payment made (201, not a replay) */
    CR_M_REFUNDS,         /* a reservation refunded */
    CR_M_COUNT
};

/* Latency buckets' upper bounds in microseconds; one more bucket above the last (+Inf). */
#define CR_METRICS_NBUCKETS 13
extern const long long cr_metrics_bucket_us[CR_METRICS_NBUCKETS];
/* Status codes 100..599 each get a counter. */
#define CR_METRICS_NCODES 500
#define CR_METRICS_SLOTS 64

/* What one process adds to; also what cr_metrics_sum() returns (the sum of every slot). */
struct cr_metrics_slot {
    uint64_t requests[CR_METRICS_NCODES];       /* by status - 100 */
    uint64_t buckets[CR_METRICS_NBUCKETS + 1];  /* per bucket, not cumulative; last = +Inf */
    uint64_t duration_us;                       /* the sum of every request's duration */
    uint64_t counters[CR_M_COUNT];
} __attribute__((aligned(64)));

/* Maps METRICS_DIR/<name>.metrics (created 0640 when missing) and claims a free slot; with
 * no METRICS_DIR or on any failure (logged), private memory instead. Call once per process,
 * after cr_config_load. CR_OK, or CR_E_INTERNAL when the file could not be used. */
int cr_metrics_open(const char *name);
/* Unmaps and gives the slot up (the counts stay in the file). */
void cr_metrics_close(void);

/* Counts one answer of the given status that took duration_us. */
void cr_metrics_request(int status, long long duration_us);
/* Adds n to a domain counter. Safe to call before cr_metrics_open (then it counts nothing). */
void cr_metrics_add(enum cr_metric m, long long n);
static inline void cr_metrics_inc(enum cr_metric m)
{
    cr_metrics_add(m, 1);
}

/* Sums every slot of dir/<name>.metrics into out (zeroed first). CR_OK; CR_E_NOT_FOUND when
 * there is no such file (nothing counted yet); CR_E_INTERNAL when it cannot be read. */
int cr_metrics_sum(const char *dir, const char *name, struct cr_metrics_slot *out);

#endif
