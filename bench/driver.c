/* driver.c: the benchmark's HTTP client for what wrk cannot do: a conversation per user.
 * Threads with one libcurl handle each (keep-alive), load only to the base URL given, which
 * bench/run sets to its own stack on 127.0.0.1; every run is bounded by a deadline and by
 * the number of users it is given.
 *
 *   driver tokens BASE USERS OUT [THREADS]
 *       Joins the line for every userId of the file USERS (one a line) and writes
 *       "userId token" lines to OUT. Every token must come back ACTIVE (the bench config's
 *       QUEUE_ACTIVE_MAX is large): anything else is a failure (exit 1).
 *
 *   driver purchase BASE USERS OFFSET COUNT FIRST_SCHEDULE LAST_SCHEDULE SECONDS CONNS
 *       S5, the whole purchase by CONNS users at once: each connection takes the next user of
 *       lines [OFFSET, OFFSET + COUNT) and joins the line, polls every 100 ms while WAITING,
 *       reads the seat map of the schedule being sold (all buyers crowd the same one, the
 *       next when it is sold out), holds a random AVAILABLE seat (another seat after a 409),
 *       and pays it with an Idempotency-Key; then the next user. Stops at SECONDS or when the
 *       users or the schedules run out. Prints one RESULT line (purchases per second, the
 *       p50/p99 of a whole purchase, the HTTP statuses seen) and exits 1 when a status
 *       outside the contract's expected ones (or a transport error) was seen. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "client.h"

#define MAX_STATUS 600
#define MAX_USERS 2000000

static const char *base;
static char **users;
static long nusers;
static atomic_long next_user;
static atomic_long statuses[MAX_STATUS];
static atomic_long transport_errors;
static atomic_long unexpected;

/* --- helpers ---------------------------------------------------------------------------- */

static void read_users(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    users = calloc(MAX_USERS, sizeof(*users));
    while (nusers < MAX_USERS && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, " \t\r\n")] = '\0';
        if (line[0] != '\0')
            users[nusers++] = strdup(line);
    }
    fclose(f);
}

struct conn {
    CURL *curl;
    struct cr_client_buf body;
    unsigned int seed;
};

static void conn_init(struct conn *c, unsigned int seed)
{
    memset(c, 0, sizeof(*c));
    c->curl = cr_client_easy(&c->body);
    c->seed = seed;
}

/* One request; returns the HTTP status (0 on a transport error) and the parsed body in *out
 * (NULL when none; the caller puts it). */
static int http(struct conn *c, const char *method, const char *path, const char *token,
                const char *idem, const char *body, json_object **out)
{
    long status = 0;
    struct curl_slist *h =
        cr_client_prepare(c->curl, &c->body, base, method, path, token, idem, body);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    if (out != NULL)
        *out = NULL;
    if (rc != CURLE_OK) {
        atomic_fetch_add(&transport_errors, 1);
        fprintf(stderr, "driver: %s %s: %s\n", method, path, curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status > 0 && status < MAX_STATUS)
        atomic_fetch_add(&statuses[status], 1);
    if (out != NULL && c->body.n > 0)
        *out = json_tokener_parse(c->body.p);
    return (int)status;
}

static void bad(const char *what, int status, struct conn *c)
{
    atomic_fetch_add(&unexpected, 1);
    fprintf(stderr, "driver: unexpected %d on %s: %.200s\n", status, what,
            c->body.p ? c->body.p : "");
}

/* --- tokens ----------------------------------------------------------------------------- */

static FILE *tokens_out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void *tokens_thread(void *arg)
{
    struct conn c;
    conn_init(&c, (unsigned int)(uintptr_t)arg);
    for (;;) {
        long i = atomic_fetch_add(&next_user, 1);
        if (i >= nusers)
            break;
        char body[128];
        json_object *o = NULL;
        snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", users[i]);
        int st = http(&c, "POST", "/api/v1/queue/tokens", NULL, NULL, body, &o);
        const char *t = cr_client_jstr(o, "token"), *s = cr_client_jstr(o, "status");
        if ((st != 201 && st != 200) || t == NULL || s == NULL || strcmp(s, "ACTIVE") != 0) {
            bad("join", st, &c);
        } else {
            pthread_mutex_lock(&out_lock);
            fprintf(tokens_out, "%s %s\n", users[i], t);
            pthread_mutex_unlock(&out_lock);
        }
        json_object_put(o);
    }
    curl_easy_cleanup(c.curl);
    free(c.body.p);
    return NULL;
}

static int cmd_tokens(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: driver tokens BASE USERS OUT [THREADS]\n");
        return 2;
    }
    base = argv[2];
    read_users(argv[3]);
    tokens_out = fopen(argv[4], "w");
    if (tokens_out == NULL) {
        perror(argv[4]);
        return 2;
    }
    int n = argc > 5 ? atoi(argv[5]) : 16;
    pthread_t th[256];
    if (n < 1 || n > 256)
        n = 16;
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, tokens_thread, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    fclose(tokens_out);
    if (atomic_load(&unexpected) || atomic_load(&transport_errors)) {
        fprintf(stderr, "driver tokens: %ld failures\n",
                atomic_load(&unexpected) + atomic_load(&transport_errors));
        return 1;
    }
    return 0;
}

/* --- purchase (S5) ---------------------------------------------------------------------- */

static long user_end;
static int first_schedule, last_schedule;
static atomic_int current_schedule;
static double deadline;
static atomic_long purchases, holds_lost, joins_waited, polls;

struct purchase_stats {
    double *times;
    long n, cap;
};

/* The schedule being sold: everybody crowds the same one until it is sold out. */
static int schedule_sold_out(int sid)
{
    int expected = sid;
    atomic_compare_exchange_strong(&current_schedule, &expected, sid + 1);
    return atomic_load(&current_schedule) <= last_schedule;
}

/* One user's purchase; returns 1 when paid, 0 when it stopped (deadline, sold out, error). */
static int purchase_one(struct conn *c, const char *user, char *token, size_t tokenlen)
{
    char body[256], path[128], reservation[64], idem[64];
    json_object *o = NULL;
    int st;

    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", user);
    st = http(c, "POST", "/api/v1/queue/tokens", NULL, NULL, body, &o);
    const char *t = cr_client_jstr(o, "token");
    if ((st != 201 && st != 200) || t == NULL) {
        bad("join", st, c);
        json_object_put(o);
        return 0;
    }
    snprintf(token, tokenlen, "%s", t);
    const char *status = cr_client_jstr(o, "status");
    int waiting = status != NULL && strcmp(status, "WAITING") == 0;
    json_object_put(o);
    if (waiting)
        atomic_fetch_add(&joins_waited, 1);
    while (waiting) {
        if (cr_client_now_s() > deadline)
            return 0;
        usleep(100 * 1000);
        atomic_fetch_add(&polls, 1);
        st = http(c, "GET", "/api/v1/queue/tokens/current", token, NULL, NULL, &o);
        if (st != 200 || cr_client_jstr(o, "status") == NULL) {
            bad("poll", st, c);
            json_object_put(o);
            return 0;
        }
        waiting = strcmp(cr_client_jstr(o, "status"), "WAITING") == 0;
        json_object_put(o);
    }

    for (int tries = 0; tries < 200; tries++) {
        if (cr_client_now_s() > deadline)
            return 0;
        int sid = atomic_load(&current_schedule);
        if (sid > last_schedule)
            return 0;
        snprintf(path, sizeof(path), "/api/v1/schedules/%d/seats", sid);
        st = http(c, "GET", path, token, NULL, NULL, &o);
        if (st != 200) {
            bad("seats", st, c);
            json_object_put(o);
            return 0;
        }
        int seat = cr_client_pick_seat(o, &c->seed);
        json_object_put(o);
        if (seat < 0) {
            bad("seats body", st, c);
            return 0;
        }
        if (seat == 0) {
            if (!schedule_sold_out(sid))
                return 0;
            continue;
        }
        snprintf(body, sizeof(body), "{\"scheduleId\":%d,\"seatNo\":%d}", sid, seat);
        st = http(c, "POST", "/api/v1/reservations", token, NULL, body, &o);
        if (st == 409) {
            atomic_fetch_add(&holds_lost, 1);
            json_object_put(o);
            continue;
        }
        if (st != 201 || cr_client_jstr(o, "reservationId") == NULL) {
            bad("hold", st, c);
            json_object_put(o);
            return 0;
        }
        snprintf(reservation, sizeof(reservation), "%s", cr_client_jstr(o, "reservationId"));
        json_object_put(o);

        snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\"]}", reservation);
        snprintf(idem, sizeof(idem), "bench-%08x%08x", rand_r(&c->seed), rand_r(&c->seed));
        st = http(c, "POST", "/api/v1/payments", token, idem, body, &o);
        json_object_put(o);
        if (st != 201) {
            bad("pay", st, c);
            return 0;
        }
        return 1;
    }
    return 0;
}

static void *purchase_thread(void *arg)
{
    struct purchase_stats *ps = arg;
    struct conn c;
    conn_init(&c, (unsigned int)(uintptr_t)arg ^ (unsigned int)time(NULL));
    while (cr_client_now_s() < deadline && atomic_load(&current_schedule) <= last_schedule) {
        long i = atomic_fetch_add(&next_user, 1);
        if (i >= user_end)
            break;
        double t0 = cr_client_now_s();
        char token[300] = "";
        int paid = purchase_one(&c, users[i], token, sizeof(token));
        if (!paid && token[0] != '\0') {
            /* Stopped half-way (the deadline): give the place back, as a client leaving
             * would, so that the next run's buyers are not kept waiting behind it. */
            int st = http(&c, "DELETE", "/api/v1/queue/tokens/current", token, NULL, NULL, NULL);
            if (st != 204)
                bad("leave", st, &c);
        }
        if (paid) {
            atomic_fetch_add(&purchases, 1);
            if (ps->n == ps->cap) {
                ps->cap = ps->cap ? ps->cap * 2 : 256;
                ps->times = realloc(ps->times, sizeof(double) * (size_t)ps->cap);
            }
            ps->times[ps->n++] = cr_client_now_s() - t0;
        }
    }
    curl_easy_cleanup(c.curl);
    free(c.body.p);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_purchase(int argc, char **argv)
{
    if (argc < 10) {
        fprintf(stderr, "usage: driver purchase BASE USERS OFFSET COUNT FIRST_SCHEDULE "
                        "LAST_SCHEDULE SECONDS CONNS\n");
        return 2;
    }
    base = argv[2];
    read_users(argv[3]);
    long offset = atol(argv[4]), count = atol(argv[5]);
    first_schedule = atoi(argv[6]);
    last_schedule = atoi(argv[7]);
    double seconds = atof(argv[8]);
    int n = atoi(argv[9]);
    if (n < 1 || n > 1024 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "driver purchase: CONNS 1-1024, SECONDS 1-600\n");
        return 2;
    }
    atomic_store(&next_user, offset);
    user_end = offset + count < nusers ? offset + count : nusers;
    atomic_store(&current_schedule, first_schedule);

    pthread_t *th = calloc((size_t)n, sizeof(*th));
    struct purchase_stats *ps = calloc((size_t)n, sizeof(*ps));
    double t0 = cr_client_now_s();
    deadline = t0 + seconds;
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, purchase_thread, &ps[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double elapsed = cr_client_now_s() - t0;

    long total = 0;
    for (int i = 0; i < n; i++)
        total += ps[i].n;
    double *all = calloc((size_t)total + 1, sizeof(double));
    long k = 0;
    for (int i = 0; i < n; i++)
        for (long j = 0; j < ps[i].n; j++)
            all[k++] = ps[i].times[j];
    qsort(all, (size_t)total, sizeof(double), cmp_double);
    double p50 = total ? all[(total - 1) * 50 / 100] : 0, p99 = total ? all[(total - 1) * 99 / 100] : 0;

    long requests = 0;
    char codes[1024] = "";
    for (int s = 0; s < MAX_STATUS; s++) {
        long v = atomic_load(&statuses[s]);
        if (v == 0)
            continue;
        requests += v;
        size_t used = strlen(codes);
        snprintf(codes + used, sizeof(codes) - used, "%s%d:%ld", used ? "," : "", s, v);
    }
    long used_users = atomic_load(&next_user) - offset;
    printf("RESULT purchases=%ld duration_us=%.0f rps=%.1f p50_us=%.0f p99_us=%.0f requests=%ld "
           "req_rps=%.1f holds_lost=%ld joins_waited=%ld polls=%ld users=%ld "
           "schedules_used=%d transport=%ld unexpected=%ld codes=%s exhausted=%d\n",
           total, elapsed * 1e6, (double)total / elapsed, p50 * 1e6, p99 * 1e6, requests,
           (double)requests / elapsed, atomic_load(&holds_lost), atomic_load(&joins_waited),
           atomic_load(&polls), used_users > count ? count : used_users,
           atomic_load(&current_schedule) - first_schedule + 1, atomic_load(&transport_errors),
           atomic_load(&unexpected), codes,
           (atomic_load(&current_schedule) > last_schedule || used_users >= count) &&
               elapsed < seconds - 0.5);
    return atomic_load(&unexpected) || atomic_load(&transport_errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc >= 2 && strcmp(argv[1], "tokens") == 0)
        return cmd_tokens(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "purchase") == 0)
        return cmd_purchase(argc, argv);
    fprintf(stderr, "usage: driver tokens ... | driver purchase ... (see driver.c)\n");
    return 2;
}
