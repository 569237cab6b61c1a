/* cr_ops.h: the Prometheus text exposition of GET /metrics (API.md "Pages and operations
 * endpoints"): the counters of every group's shared file, the line from Redis, the outbox
 * and the seats left from MariaDB. */
#ifndef CR_OPS_H
#define CR_OPS_H

#include "cr_arena.h"

/* The Content-Type of the exposition. */
#define CR_OPS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes the whole exposition into the arena and sets *text to it. Counters come from
 * METRICS_DIR (the five groups' files and the expiry job's); a gauge whose source is down is
 * left out and concert_scrape_source_up{source} says so. Always CR_OK. */
int cr_ops_metrics_text(struct cr_arena *a, const char **text);

#endif
