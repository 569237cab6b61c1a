/* cr_metrics.c: per-worker slots of counters in one shared file per group (cr_metrics.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_metrics.h"

const long long cr_metrics_bucket_us[CR_METRICS_NBUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
    10000000};

#define CR_METRICS_SIZE (sizeof(struct cr_metrics_slot) * CR_METRICS_SLOTS)

static struct cr_metrics_slot *cr_metrics_map; /* the whole file, or NULL */
static struct cr_metrics_slot cr_metrics_private;
static struct cr_metrics_slot *cr_metrics_mine; /* where this process adds; NULL: nowhere */
static int cr_metrics_fd = -1;

/* Relaxed atomic adds (GCC's builtins, the C11 memory_order_relaxed, on plain fields of the
 * mapped struct): every worker adds to its own slot, so the cache line is never contended,
 * and a reader only needs each word whole, not in any order with the others. */
static inline void cr_metrics_bump(uint64_t *p, uint64_t n)
{
    __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static int cr_metrics_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s.metrics", dir, name);
    return n > 0 && (size_t)n < len ? CR_OK : CR_E_INTERNAL;
}

/* Claims the first slot nobody holds: a write lock on its byte range that belongs to this
 * open file description (F_OFD_SETLK), so the kernel drops it when the process ends, however
 * it ends. -1 when every slot is taken. */
static int cr_metrics_claim(int fd)
{
    for (int i = 0; i < CR_METRICS_SLOTS; i++) {
        struct flock fl;
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = (off_t)(sizeof(struct cr_metrics_slot) * (size_t)i);
        fl.l_len = (off_t)sizeof(struct cr_metrics_slot);
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
            return i;
    }
    return -1;
}

int cr_metrics_open(const char *name)
{
    char path[4096];
    const char *dir = cr_config_get("METRICS_DIR");
    struct stat st;
    int rc = CR_E_INTERNAL, slot;
    void *m;

    cr_metrics_close();
    cr_metrics_mine = &cr_metrics_private;
    if (dir == NULL || *dir == '\0')
        return CR_OK;
    if (cr_metrics_path(path, sizeof(path), dir, name) != CR_OK)
        goto out;
    cr_metrics_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (cr_metrics_fd < 0 || fstat(cr_metrics_fd, &st) != 0)
        goto out;
    /* Two workers starting at once may both extend it: to the same size, which keeps
     * whatever is already counted (ftruncate only ever adds zeros here). */
    if ((size_t)st.st_size != CR_METRICS_SIZE) {
        if ((size_t)st.st_size > CR_METRICS_SIZE || ftruncate(cr_metrics_fd, CR_METRICS_SIZE) != 0)
            goto out;
    }
    m = mmap(NULL, CR_METRICS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cr_metrics_fd, 0);
    if (m == MAP_FAILED)
        goto out;
    cr_metrics_map = m;
    /* With every slot taken (more workers than slots, e.g. in a long reload), share one:
     * atomic adds stay exact, only the cache line is contended. */
    slot = cr_metrics_claim(cr_metrics_fd);
    cr_metrics_mine = &cr_metrics_map[slot >= 0 ? slot : (int)(getpid() % CR_METRICS_SLOTS)];
    rc = CR_OK;
out:
    if (rc != CR_OK) {
        cr_log_warn("metrics file %s not usable (%s): counting in this process only", path,
                    strerror(errno));
        if (cr_metrics_fd >= 0)
            close(cr_metrics_fd);
        cr_metrics_fd = -1;
    }
    return rc;
}

void cr_metrics_close(void)
{
    if (cr_metrics_map != NULL)
        munmap(cr_metrics_map, CR_METRICS_SIZE);
    if (cr_metrics_fd >= 0)
        close(cr_metrics_fd); /* drops the slot's lock */
    cr_metrics_map = NULL;
    cr_metrics_fd = -1;
    cr_metrics_mine = NULL;
}

void cr_metrics_request(int status, long long duration_us)
{
    struct cr_metrics_slot *s = cr_metrics_mine;
    int b = 0;
    if (s == NULL)
        return;
    if (status >= 100 && status < 100 + CR_METRICS_NCODES)
        cr_metrics_bump(&s->requests[status - 100], 1);
    if (duration_us < 0)
        duration_us = 0;
    while (b < CR_METRICS_NBUCKETS && duration_us > cr_metrics_bucket_us[b])
        b++;
    cr_metrics_bump(&s->buckets[b], 1);
    cr_metrics_bump(&s->duration_us, (uint64_t)duration_us);
}

void cr_metrics_add(enum cr_metric m, long long n)
{
    if (cr_metrics_mine != NULL && m >= 0 && m < CR_M_COUNT && n > 0)
        cr_metrics_bump(&cr_metrics_mine->counters[m], (uint64_t)n);
}

static void cr_metrics_acc(uint64_t *to, const uint64_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

int cr_metrics_sum(const char *dir, const char *name, struct cr_metrics_slot *out)
{
    char path[4096];
    struct stat st;
    int fd = -1, rc = CR_E_INTERNAL;
    const struct cr_metrics_slot *m = MAP_FAILED;

    memset(out, 0, sizeof(*out));
    if (cr_metrics_path(path, sizeof(path), dir, name) != CR_OK)
        goto out;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? CR_E_NOT_FOUND : CR_E_INTERNAL;
        goto out;
    }
    if (fstat(fd, &st) != 0)
        goto out;
    if ((size_t)st.st_size != CR_METRICS_SIZE) {
        rc = st.st_size == 0 ? CR_E_NOT_FOUND : CR_E_INTERNAL; /* 0: being created right now */
        goto out;
    }
    m = mmap(NULL, CR_METRICS_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        goto out;
    for (int i = 0; i < CR_METRICS_SLOTS; i++) {
        cr_metrics_acc(out->requests, m[i].requests, CR_METRICS_NCODES);
        cr_metrics_acc(out->buckets, m[i].buckets, CR_METRICS_NBUCKETS + 1);
        cr_metrics_acc(&out->duration_us, &m[i].duration_us, 1);
        cr_metrics_acc(out->counters, m[i].counters, CR_M_COUNT);
    }
    rc = CR_OK;
out:
    if (m != MAP_FAILED)
        munmap((void *)m, CR_METRICS_SIZE);
    if (fd >= 0)
        close(fd);
    return rc;
}
