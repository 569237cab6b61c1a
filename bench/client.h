/* client.h: what the load clients share (bench/driver.c, bench/s7.c, tests/cluster/buyer.c):
 * a growing response body for libcurl, a monotonic clock, one request's setup, and reading
 * answers. Built into
 * each of them from source (bench/run's gcc lines, Makefile.am's buyer rule). */
#ifndef CR_BENCH_CLIENT_H
#define CR_BENCH_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>
#include <json-c/json.h>

/* A response body, NUL-terminated; n = 0 empties it for the next request. */
struct cr_client_buf {
    char *p;
    size_t n, cap;
};

/* A new easy handle whose answers go to body (growing; aborts when out of memory), 15 s at the
 * most a request, no signals (threads). */
CURL *cr_client_easy(struct cr_client_buf *body);

/* Monotonic seconds (durations and deadlines). */
double cr_client_now_s(void);

/* Sets c up for method base+path: empties body, adds the Authorization (token), Idempotency-Key
 * (idem) and Content-Type headers (each when not NULL), and the request body (a GET when NULL).
 * Returns the header list, to free with curl_slist_free_all after curl_easy_perform. */
struct curl_slist *cr_client_prepare(CURL *c, struct cr_client_buf *body, const char *base,
                                     const char *method, const char *path, const char *token,
                                     const char *idem, const char *json);

/* The string member key of o; NULL when o is NULL or has none. */
const char *cr_client_jstr(json_object *o, const char *key);

/* Picks a random AVAILABLE seat of the seat map o (GET /schedules/{id}/seats); 0 when there is
 * none, -1 on a bad body. */
int cr_client_pick_seat(json_object *o, unsigned int *seed);

#endif
