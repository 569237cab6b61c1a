/* buyer.c: the steady buyer of the failover tests (tests/cluster/).
 *
 *   buyer BASE_URL SECONDS CONNS OUT_DIR [FIRST_SCHEDULE LAST_SCHEDULE]
 *       CONNS threads (one keep-alive libcurl handle each) buy for SECONDS. Each creates a user
 *       and charges it, then loops: join the line (poll while WAITING), refund the seat it
 *       bought last time (so seats come back and the loop can run for minutes), read the seat
 *       map of one of the schedules (default 1-15, the demo's open ones), hold an AVAILABLE
 *       seat (another after a 409) and pay it with an Idempotency-Key.
 *       A 502, 503 or 504 or a lost connection is what a client sees while a part fails over:
 *       the buyer waits a little and sends the same request again (a payment or a charge with
 *       the same Idempotency-Key, so it is never charged twice). A 401 on a token the service
 *       issued means the token was lost (a Redis failover loses its last writes): counted
 *       apart, and the buyer joins again (a payment is resent with the new token and the same
 *       key; the contract answers it with the recorded response). A payment answered 500 (a
 *       COMMIT whose outcome was lost with its node) is resent with the same key too.
 *       Writes OUT_DIR/acks.tsv (paymentId userId amount, one line per acknowledged payment),
 *       OUT_DIR/refunds.tsv (reservationId userId) and OUT_DIR/events.tsv (start and end in
 *       epoch ms, step, status; 0 = transport error), and prints one JSON line. Exit 1 when an
 *       answer outside the contract's expected ones was seen.
 *
 *   buyer recovery OUT_DIR KILL_MS
 *       From events.tsv: the ms from KILL_MS (epoch ms) to the end of the first successful
 *       answer to a request sent after it; prints it (or -1 when none) and the failures seen
 *       after KILL_MS, as one JSON line. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "../../bench/client.h"

#define MAX_STATUS 600
#define RETRY_MS 100        /* between resends of a request that met a failing part */
#define RETRY_FOR_MS 60000  /* a resend loop gives up after this (the service never came back) */

static const char *base;
static double deadline;
static int first_schedule = 1, last_schedule = 15;
static atomic_long statuses[MAX_STATUS];
static atomic_long transport_errors, unexpected, lost_tokens, purchases, refunds, holds_lost;
static atomic_long outcome_unknown; /* 500s of a payment: a COMMIT cut off by a failure */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *acks_out, *refunds_out, *events_out;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    return (double)now_ms() / 1000.0;
}

struct conn {
    CURL *curl;
    struct cr_client_buf body;
    unsigned int seed;
    char user[64];
    char token[300];
    char bought[64]; /* the reservation paid last, to refund on the next round */
};

static void conn_init(struct conn *c, unsigned int seed)
{
    memset(c, 0, sizeof(*c));
    c->curl = cr_client_easy(&c->body);
    c->seed = seed;
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
}

/* One request; returns the HTTP status (0 on a transport error), the parsed body in *out. */
static int http(struct conn *c, const char *step, const char *method, const char *path,
                const char *idem, const char *body, json_object **out)
{
    long status = 0;
    struct curl_slist *h = cr_client_prepare(c->curl, &c->body, base, method, path,
                                             c->token[0] != '\0' ? c->token : NULL, idem, body);
    long long t0 = now_ms();
    CURLcode rc = curl_easy_perform(c->curl);
    long long t1 = now_ms();
    curl_slist_free_all(h);
    if (out != NULL)
        *out = NULL;
    if (rc != CURLE_OK) {
        atomic_fetch_add(&transport_errors, 1);
    } else {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status > 0 && status < MAX_STATUS)
            atomic_fetch_add(&statuses[status], 1);
        if (out != NULL && c->body.n > 0)
            *out = json_tokener_parse(c->body.p);
    }
    pthread_mutex_lock(&out_lock);
    fprintf(events_out, "%lld\t%lld\t%s\t%ld\n", t0, t1, step, status);
    pthread_mutex_unlock(&out_lock);
    return (int)status;
}

/* The error code of an error body, "" when none. */
static const char *err_code(json_object *o)
{
    json_object *e;
    const char *code = NULL;
    if (o != NULL && json_object_object_get_ex(o, "error", &e))
        code = cr_client_jstr(e, "code");
    return code != NULL ? code : "";
}

static void bad(const char *what, int status, struct conn *c)
{
    atomic_fetch_add(&unexpected, 1);
    fprintf(stderr, "buyer: unexpected %d on %s: %.200s\n", status, what,
            c->body.p ? c->body.p : "");
}

/* A failing part's answer: the same request may be sent again. */
static int failing(int st)
{
    return st == 0 || st == 502 || st == 503 || st == 504;
}

static void pause_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* Sends the request until the answer is not a failing part's (or RETRY_FOR_MS passed). */
static int send_until_answered(struct conn *c, const char *step, const char *method,
                               const char *path, const char *idem, const char *body,
                               json_object **out)
{
    long long until = now_ms() + RETRY_FOR_MS;
    for (;;) {
        int st = http(c, step, method, path, idem, body, out);
        if (!failing(st) || now_ms() > until)
            return st;
        if (out != NULL) {
            json_object_put(*out);
            *out = NULL;
        }
        pause_ms(RETRY_MS);
    }
}

static int charge(struct conn *c)
{
    char path[160], idem[64];
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", c->user);
    snprintf(idem, sizeof(idem), "buyer-c-%08x%08x", rand_r(&c->seed), rand_r(&c->seed));
    int st = send_until_answered(c, "charge", "POST", path, idem, "{\"amount\":10000000}", NULL);
    if (st != 200) {
        bad("charge", st, c);
        return 0;
    }
    return 1;
}

static int new_user(struct conn *c)
{
    json_object *o = NULL;
    c->token[0] = '\0';
    c->bought[0] = '\0';
    int st = send_until_answered(c, "user", "POST", "/api/v1/users", NULL, "{}", &o);
    const char *u = cr_client_jstr(o, "userId");
    if (st != 201 || u == NULL) {
        bad("user", st, c);
        json_object_put(o);
        return 0;
    }
    snprintf(c->user, sizeof(c->user), "%s", u);
    json_object_put(o);
    return charge(c);
}

/* Joins and waits until ACTIVE; 0 at the deadline or on an unexpected answer. */
static int join(struct conn *c)
{
    char body[128];
    json_object *o = NULL;
    c->token[0] = '\0';
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", c->user);
    int st = send_until_answered(c, "join", "POST", "/api/v1/queue/tokens", NULL, body, &o);
    const char *t = cr_client_jstr(o, "token"), *s = cr_client_jstr(o, "status");
    if ((st != 201 && st != 200) || t == NULL || s == NULL) {
        bad("join", st, c);
        json_object_put(o);
        return 0;
    }
    snprintf(c->token, sizeof(c->token), "%s", t);
    int waiting = strcmp(s, "WAITING") == 0;
    json_object_put(o);
    while (waiting) {
        if (now_s() > deadline)
            return 0;
        pause_ms(100);
        st = send_until_answered(c, "poll", "GET", "/api/v1/queue/tokens/current", NULL, NULL, &o);
        if (st == 401) { /* lost in a failover: a new place in line */
            atomic_fetch_add(&lost_tokens, 1);
            json_object_put(o);
            return join(c);
        }
        if (st != 200 || cr_client_jstr(o, "status") == NULL) {
            bad("poll", st, c);
            json_object_put(o);
            return 0;
        }
        waiting = strcmp(cr_client_jstr(o, "status"), "WAITING") == 0;
        json_object_put(o);
    }
    return 1;
}

/* 1 done (or nothing to do), -1 lost token (join again), 0 unexpected. */
static int refund(struct conn *c)
{
    char path[160];
    if (c->bought[0] == '\0')
        return 1;
    snprintf(path, sizeof(path), "/api/v1/reservations/%s/refund", c->bought);
    int st = send_until_answered(c, "refund", "POST", path, NULL, NULL, NULL);
    if (st == 401) {
        atomic_fetch_add(&lost_tokens, 1);
        return -1;
    }
    if (st != 200) {
        bad("refund", st, c);
        return 0;
    }
    atomic_fetch_add(&refunds, 1);
    pthread_mutex_lock(&out_lock);
    fprintf(refunds_out, "%s\t%s\n", c->bought, c->user);
    pthread_mutex_unlock(&out_lock);
    c->bought[0] = '\0';
    return 1;
}

/* Holds a seat; 1 with its id in res, -1 join again (a lost token, or a new user because the
 * old one's holds ran to the limit), 0 stop (deadline, unexpected). */
static int hold(struct conn *c, char *res, size_t reslen)
{
    char path[128], body[128];
    json_object *o = NULL;
    for (int tries = 0; now_s() < deadline && tries < 500; tries++) {
        int sid = first_schedule + rand_r(&c->seed) % (last_schedule - first_schedule + 1);
        snprintf(path, sizeof(path), "/api/v1/schedules/%d/seats", sid);
        int st = send_until_answered(c, "seats", "GET", path, NULL, NULL, &o);
        if (st == 401) {
            atomic_fetch_add(&lost_tokens, 1);
            json_object_put(o);
            return -1;
        }
        int seat = st == 200 ? cr_client_pick_seat(o, &c->seed) : -1;
        json_object_put(o);
        if (seat < 0) {
            bad("seats", st, c);
            return 0;
        }
        if (seat == 0)
            continue;
        snprintf(body, sizeof(body), "{\"scheduleId\":%d,\"seatNo\":%d}", sid, seat);
        st = send_until_answered(c, "hold", "POST", "/api/v1/reservations", NULL, body, &o);
        if (st == 401) {
            atomic_fetch_add(&lost_tokens, 1);
            json_object_put(o);
            return -1;
        }
        if (st == 409 && strcmp(err_code(o), "HOLD_LIMIT_REACHED") == 0) {
            /* holds left behind by requests lost in a failover: they expire; a new user */
            json_object_put(o);
            return new_user(c) ? -1 : 0;
        }
        if (st == 409) {
            atomic_fetch_add(&holds_lost, 1);
            json_object_put(o);
            continue;
        }
        const char *r = cr_client_jstr(o, "reservationId");
        if ((st != 201 && st != 200) || r == NULL) {
            bad("hold", st, c);
            json_object_put(o);
            return 0;
        }
        snprintf(res, reslen, "%s", r);
        json_object_put(o);
        return 1;
    }
    return 0;
}

/* Pays res with one Idempotency-Key, resending through failovers; 1 paid, 0 not. */
static int pay(struct conn *c, const char *res)
{
    char body[128], idem[64];
    json_object *o = NULL;
    snprintf(body, sizeof(body), "{\"reservationIds\":[\"%s\"]}", res);
    snprintf(idem, sizeof(idem), "buyer-p-%08x%08x", rand_r(&c->seed), rand_r(&c->seed));
    for (int round = 0; round < 5; round++) {
        int st = send_until_answered(c, "pay", "POST", "/api/v1/payments", idem, body, &o);
        if (st == 201 && cr_client_jstr(o, "paymentId") != NULL) {
            json_object *amount;
            long long a = json_object_object_get_ex(o, "amount", &amount)
                              ? (long long)json_object_get_int64(amount)
                              : -1;
            pthread_mutex_lock(&out_lock);
            fprintf(acks_out, "%s\t%s\t%lld\n", cr_client_jstr(o, "paymentId"), c->user, a);
            pthread_mutex_unlock(&out_lock);
            json_object_put(o);
            atomic_fetch_add(&purchases, 1);
            snprintf(c->bought, sizeof(c->bought), "%s", res);
            c->token[0] = '\0'; /* used up by the payment */
            return 1;
        }
        if (st == 409 && strcmp(err_code(o), "REQUEST_IN_PROGRESS") == 0) {
            /* the first try still runs (on a part that is failing): ask again shortly */
            json_object_put(o);
            o = NULL;
            if (now_s() > deadline + RETRY_FOR_MS / 1000.0) {
                bad("pay (still in progress)", st, c);
                return 0;
            }
            pause_ms(RETRY_MS * 5);
            round--;
            continue;
        }
        json_object_put(o);
        o = NULL;
        if (st == 500) {
            /* A COMMIT whose outcome the service could not know (its node died under it):
             * the contract lets the client send the same key again, and the answer then
             * says what happened. */
            atomic_fetch_add(&outcome_unknown, 1);
            pause_ms(RETRY_MS);
            continue;
        }
        if (st == 401) { /* the token was lost: the same payment with a new one */
            atomic_fetch_add(&lost_tokens, 1);
            if (!join(c))
                return 0;
            continue;
        }
        if (st == 422) { /* out of money: charge, then pay with a new key */
            if (!charge(c))
                return 0;
            snprintf(idem, sizeof(idem), "buyer-p-%08x%08x", rand_r(&c->seed), rand_r(&c->seed));
            continue;
        }
        if (st == 410 || st == 409) /* the hold ran out, or was lost: the next round */
            return 0;
        bad("pay", st, c);
        return 0;
    }
    return 0;
}

static void *buyer_thread(void *arg)
{
    struct conn c;
    char res[64];
    conn_init(&c, (unsigned int)(uintptr_t)arg ^ (unsigned int)now_ms());
    if (!new_user(&c))
        goto out;
    while (now_s() < deadline) {
        if (!join(&c))
            break;
        int r = refund(&c);
        if (r == 0)
            break;
        if (r < 0)
            continue;
        r = hold(&c, res, sizeof(res));
        if (r == 0)
            break;
        if (r < 0)
            continue;
        pay(&c, res);
    }
    /* Leave the line, as a client closing its page would. */
    if (c.token[0] != '\0')
        http(&c, "leave", "DELETE", "/api/v1/queue/tokens/current", NULL, NULL, NULL);
out:
    curl_easy_cleanup(c.curl);
    free(c.body.p);
    return NULL;
}

static FILE *open_out(const char *dir, const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (f == NULL) {
        fprintf(stderr, "buyer: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return f;
}

static int cmd_recovery(const char *dir, long long kill_ms)
{
    FILE *f = open_out(dir, "events.tsv", "r");
    long long t0, t1, back = -1;
    long failures = 0;
    char step[32];
    long st;
    while (fscanf(f, "%lld\t%lld\t%31s\t%ld\n", &t0, &t1, step, &st) == 4) {
        if (t1 >= kill_ms && failing((int)st))
            failures++;
        if (t0 >= kill_ms && st >= 200 && st < 300 && (back < 0 || t1 - kill_ms < back))
            back = t1 - kill_ms;
    }
    fclose(f);
    printf("{\"recoveryMs\":%lld,\"failuresAfterKill\":%ld}\n", back, failures);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "recovery") == 0)
        return cmd_recovery(argv[2], atoll(argv[3]));
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: buyer BASE_URL SECONDS CONNS OUT_DIR [FIRST LAST_SCHEDULE]\n"
                        "       buyer recovery OUT_DIR KILL_MS\n");
        return 2;
    }
    base = argv[1];
    double seconds = atof(argv[2]);
    int n = atoi(argv[3]);
    if (argc == 7) {
        first_schedule = atoi(argv[5]);
        last_schedule = atoi(argv[6]);
    }
    if (seconds <= 0 || n < 1 || n > 1000 || first_schedule < 1 ||
        last_schedule < first_schedule) {
        fprintf(stderr, "buyer: bad arguments\n");
        return 2;
    }
    acks_out = open_out(argv[4], "acks.tsv", "w");
    refunds_out = open_out(argv[4], "refunds.tsv", "w");
    events_out = open_out(argv[4], "events.tsv", "w");
    curl_global_init(CURL_GLOBAL_ALL);
    deadline = now_s() + seconds;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, buyer_thread, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
    fclose(acks_out);
    fclose(refunds_out);
    fclose(events_out);

    printf("{\"purchases\":%ld,\"refunds\":%ld,\"holdsLost\":%ld,\"lostTokens\":%ld,"
           "\"outcomeUnknown\":%ld,\"transportErrors\":%ld,\"unexpected\":%ld,\"statuses\":{",
           atomic_load(&purchases), atomic_load(&refunds), atomic_load(&holds_lost),
           atomic_load(&lost_tokens), atomic_load(&outcome_unknown),
           atomic_load(&transport_errors), atomic_load(&unexpected));
    const char *sep = "";
    for (int s = 0; s < MAX_STATUS; s++)
        if (atomic_load(&statuses[s]) > 0) {
            printf("%s\"%d\":%ld", sep, s, atomic_load(&statuses[s]));
            sep = ",";
        }
    printf("}}\n");
    curl_global_cleanup();
    return atomic_load(&unexpected) > 0 || atomic_load(&purchases) == 0;
}
