/* s7.c: S7, the flash-crowd sale: one event-driven load generator (libcurl multi, one thread)
 * playing N buyers who arrive over a few seconds for the seats of one concert's schedules.
 *
 *   s7 BASE USERS_FILE OFFSET COUNT CONCERT FIRST_SCHEDULE LAST_SCHEDULE ARRIVAL_S DEADLINE_S CONNS
 *
 * Buyer i (of COUNT, from line OFFSET of USERS_FILE: users with money) arrives at
 * i * ARRIVAL_S / COUNT seconds and then, each step one request, as the contract says:
 *   join      POST /api/v1/queue/tokens; WAITING: wait as told (Retry-After, else
 *             estimatedWaitSeconds, at least 0.1 s, at most 5 s) and poll
 *             (GET /api/v1/queue/tokens/current) until ACTIVE;
 *   seats     GET the seat map of its schedule (FIRST + i mod the schedules); nothing left:
 *   list      GET /api/v1/concerts/CONCERT/schedules?available=true and go to a random one with
 *             seats left, or give up when there is none;
 *   hold      one or two random AVAILABLE seats of the map (POST /api/v1/reservations); a 409
 *             is a lost hold: read the map again; 5 lost holds: give up (paying what it holds);
 *   pay       POST /api/v1/payments with an Idempotency-Key: the purchase.
 * A buyer that gives up gives its place back (DELETE /api/v1/queue/tokens/current).
 * At most CONNS requests are in flight (libcurl queues the rest); waits are timers, not
 * connections. The run ends when every buyer is done, when every seat is sold and no request
 * is in flight, or at DEADLINE_S.
 *
 * Prints one line for bench/run:
 *   RESULT buyers=N purchases=N seats=N sold_out_s=X rps=X (purchases/s over the sale)
 *   req=N transport=N unexpected=N codes=200:N,... max_active=N fairness=X
 *   p50_<step>_ms=X p99_<step>_ms=X (join poll seats list hold pay wait purchase)
 * sold_out_s: from the first arrival to the payment that sold the last seat (-1 if not sold
 * out). fairness: Spearman's rank correlation between arrival order and the order in which
 * the buyers were admitted (first seen ACTIVE). max_active: the most buyers holding an active
 * token at once (admitted, not yet paid or given back), as the generator sees it. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define MAX_STATUS 600
#define MAX_SEATS_MAP 1024

enum step { S_JOIN, S_POLL, S_SEATS, S_LIST, S_HOLD, S_PAY, S_GIVEUP, S_NSTEPS };
static const char *const step_names[] = {"join", "poll", "seats", "list", "hold", "pay", "giveup"};

struct buyer {
    int idx;
    const char *user;
    char token[320];
    char auth[360];
    char rids[2][40];
    int nheld, want, lost, schedule, admitted, done;
    long admit_seq;
    double arrive, joined, admitted_at, sent;
    enum step step;
    CURL *easy;
    struct curl_slist *hdr;
    struct cr_client_buf body;
    char url[256];
    char req[256];
    unsigned int seed;
    /* the seats seen available in the last map */
    int avail[MAX_SEATS_MAP], navail;
};

/* --- timers: a binary min-heap of buyers by wake time ----------------------------------- */
struct timer {
    double at;
    struct buyer *b;
};
static struct timer *heap;
static int nheap;

static void heap_push(double at, struct buyer *b)
{
    int i = nheap++;
    while (i > 0 && heap[(i - 1) / 2].at > at) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i].at = at;
    heap[i].b = b;
}

static struct timer heap_pop(void)
{
    struct timer top = heap[0], last = heap[--nheap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= nheap)
            break;
        if (c + 1 < nheap && heap[c + 1].at < heap[c].at)
            c++;
        if (heap[c].at >= last.at)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (nheap > 0)
        heap[i] = last;
    return top;
}

/* --- state --------------------------------------------------------------------------------- */
static const char *base;
static long long concert;
static int first_sched, nsched;
static CURLM *multi;
static double t0;
static long statuses[MAX_STATUS], transport, unexpected, requests;
static long purchases, seats_bought, total_seats, inflight, active_now, max_active, admit_next;
static double sold_out_at = -1, last_pay_at;
static double *lat[S_NSTEPS + 2];
static long nlat[S_NSTEPS + 2], caplat[S_NSTEPS + 2];
#define L_WAIT S_NSTEPS
#define L_PURCHASE (S_NSTEPS + 1)

static void record(int k, double seconds)
{
    if (nlat[k] == caplat[k]) {
        caplat[k] = caplat[k] ? caplat[k] * 2 : 1024;
        lat[k] = realloc(lat[k], sizeof(double) * (size_t)caplat[k]);
    }
    lat[k][nlat[k]++] = seconds;
}

/* Retry-After of the last answer (seconds; -1 when none). */
static double retry_after(struct buyer *b)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(b->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        return atof(h->value);
    return -1;
}

/* Sends the buyer's request of its current step. */
static void send_step(struct buyer *b)
{
    const char *method = "GET", *body = NULL;
    char key[80];
    curl_slist_free_all(b->hdr);
    b->hdr = NULL;
    b->body.n = 0;
    switch (b->step) {
    case S_JOIN:
        method = "POST";
        snprintf(b->url, sizeof(b->url), "%s/api/v1/queue/tokens", base);
        snprintf(b->req, sizeof(b->req), "{\"userId\":\"%s\"}", b->user);
        body = b->req;
        break;
    case S_POLL:
        snprintf(b->url, sizeof(b->url), "%s/api/v1/queue/tokens/current", base);
        break;
    case S_SEATS:
        snprintf(b->url, sizeof(b->url), "%s/api/v1/schedules/%d/seats", base, b->schedule);
        break;
    case S_LIST:
        snprintf(b->url, sizeof(b->url), "%s/api/v1/concerts/%lld/schedules?available=true", base,
                 concert);
        break;
    case S_HOLD: {
        method = "POST";
        int k = (int)(rand_r(&b->seed) % (unsigned)b->navail);
        int seat = b->avail[k];
        b->avail[k] = b->avail[--b->navail];
        snprintf(b->url, sizeof(b->url), "%s/api/v1/reservations", base);
        snprintf(b->req, sizeof(b->req), "{\"scheduleId\":%d,\"seatNo\":%d}", b->schedule, seat);
        body = b->req;
        break;
    }
    case S_PAY:
        method = "POST";
        snprintf(b->url, sizeof(b->url), "%s/api/v1/payments", base);
        if (b->nheld == 2)
            snprintf(b->req, sizeof(b->req), "{\"reservationIds\":[\"%s\",\"%s\"]}", b->rids[0],
                     b->rids[1]);
        else
            snprintf(b->req, sizeof(b->req), "{\"reservationIds\":[\"%s\"]}", b->rids[0]);
        body = b->req;
        snprintf(key, sizeof(key), "Idempotency-Key: s7-%d-%08x", b->idx, rand_r(&b->seed));
        b->hdr = curl_slist_append(b->hdr, key);
        break;
    case S_GIVEUP:
    default:
        method = "DELETE";
        snprintf(b->url, sizeof(b->url), "%s/api/v1/queue/tokens/current", base);
        break;
    }
    if (b->step != S_JOIN)
        b->hdr = curl_slist_append(b->hdr, b->auth);
    if (body != NULL)
        b->hdr = curl_slist_append(b->hdr, "Content-Type: application/json");
    curl_easy_setopt(b->easy, CURLOPT_URL, b->url);
    curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, b->hdr);
    if (body != NULL) {
        curl_easy_setopt(b->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(b->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(b->easy, CURLOPT_CUSTOMREQUEST, method);
    } else {
        curl_easy_setopt(b->easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(b->easy, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "GET") == 0 ? NULL : method);
    }
    b->sent = cr_client_now_s();
    inflight++;
    requests++;
    curl_multi_add_handle(multi, b->easy);
}

static long finished;

static void finish(struct buyer *b)
{
    if (b->done)
        return;
    if (b->admitted)
        active_now--;
    b->done = 1;
    finished++;
}

static void unexpected_answer(struct buyer *b, long st)
{
    unexpected++;
    if (unexpected <= 5)
        fprintf(stderr, "s7: %s answered %ld: %.200s\n", step_names[b->step], st,
                b->body.p ? b->body.p : "");
}

/* The buyer is admitted now (its token ACTIVE): count it, then read the map. */
static void admitted(struct buyer *b)
{
    b->admitted = 1;
    b->admitted_at = cr_client_now_s();
    b->admit_seq = admit_next++;
    record(L_WAIT, b->admitted_at - b->joined);
    if (++active_now > max_active)
        max_active = active_now;
    b->step = S_SEATS;
    send_step(b);
}

static void give_up(struct buyer *b)
{
    if (b->nheld > 0) {
        b->step = S_PAY;
        send_step(b);
        return;
    }
    b->step = S_GIVEUP;
    send_step(b);
}

/* Waits as the answer says, then polls. */
static void wait_then_poll(struct buyer *b, json_object *o)
{
    double w = retry_after(b);
    if (w < 0 && o != NULL) {
        json_object *v;
        if (json_object_object_get_ex(o, "estimatedWaitSeconds", &v))
            w = json_object_get_double(v);
    }
    if (w < 0.1)
        w = 0.1;
    if (w > 5)
        w = 5;
    b->step = S_POLL;
    heap_push(cr_client_now_s() + w, b);
}

static void on_done(struct buyer *b, CURLcode cc)
{
    long st = 0;
    double t = cr_client_now_s();
    inflight--;
    curl_multi_remove_handle(multi, b->easy);
    if (cc != CURLE_OK) {
        transport++;
        if (transport <= 5)
            fprintf(stderr, "s7: %s: %s\n", step_names[b->step], curl_easy_strerror(cc));
        finish(b);
        return;
    }
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &st);
    if (st > 0 && st < MAX_STATUS)
        statuses[st]++;
    record(b->step, t - b->sent);
    json_object *o = b->body.n > 0 ? json_tokener_parse(b->body.p) : NULL;

    switch (b->step) {
    case S_JOIN:
    case S_POLL: {
        const char *status = cr_client_jstr(o, "status"), *tok = cr_client_jstr(o, "token");
        if ((b->step == S_JOIN ? (st != 200 && st != 201) : st != 200) || status == NULL) {
            unexpected_answer(b, st);
            finish(b);
            break;
        }
        if (b->step == S_JOIN) {
            b->joined = t;
            snprintf(b->token, sizeof(b->token), "%s", tok ? tok : "");
            snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s", b->token);
        }
        if (strcmp(status, "ACTIVE") == 0)
            admitted(b);
        else
            wait_then_poll(b, o);
        break;
    }
    case S_SEATS: {
        json_object *seats;
        if (st != 200 || !json_object_object_get_ex(o, "seats", &seats)) {
            unexpected_answer(b, st);
            finish(b);
            break;
        }
        b->navail = 0;
        size_t n = json_object_array_length(seats);
        for (size_t i = 0; i < n && b->navail < MAX_SEATS_MAP; i++) {
            json_object *s = json_object_array_get_idx(seats, i), *no;
            const char *ss = cr_client_jstr(s, "status");
            if (ss != NULL && strcmp(ss, "AVAILABLE") == 0 &&
                json_object_object_get_ex(s, "seatNo", &no))
                b->avail[b->navail++] = json_object_get_int(no);
        }
        if (b->navail == 0) {
            b->step = b->nheld > 0 ? S_PAY : S_LIST;
            send_step(b);
        } else {
            b->step = S_HOLD;
            send_step(b);
        }
        break;
    }
    case S_LIST: {
        json_object *list;
        if (st != 200 || !json_object_object_get_ex(o, "schedules", &list)) {
            unexpected_answer(b, st);
            finish(b);
            break;
        }
        int cand[256], nc = 0;
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n && nc < 256; i++) {
            json_object *s = json_object_array_get_idx(list, i), *id;
            if (json_object_object_get_ex(s, "scheduleId", &id)) {
                int sid = json_object_get_int(id);
                if (sid >= first_sched && sid < first_sched + nsched)
                    cand[nc++] = sid;
            }
        }
        if (nc == 0) {
            give_up(b); /* the map shows nothing left, nor does any other schedule */
            break;
        }
        b->schedule = cand[rand_r(&b->seed) % (unsigned)nc];
        b->step = S_SEATS;
        send_step(b);
        break;
    }
    case S_HOLD: {
        const char *rid = cr_client_jstr(o, "reservationId");
        if (st == 201 && rid != NULL) {
            snprintf(b->rids[b->nheld++], sizeof(b->rids[0]), "%s", rid);
            if (b->nheld < b->want && b->navail > 0) {
                send_step(b); /* the second seat, from the same map */
            } else {
                b->step = S_PAY;
                send_step(b);
            }
        } else if (st == 409) {
            if (++b->lost >= 5) {
                give_up(b);
            } else {
                /* Pay what it holds, or read the map again: it moved. */
                b->step = b->nheld > 0 ? S_PAY : S_SEATS;
                send_step(b);
            }
        } else {
            unexpected_answer(b, st);
            finish(b);
        }
        break;
    }
    case S_PAY:
        if (st == 201) {
            purchases++;
            seats_bought += b->nheld;
            last_pay_at = t;
            record(L_PURCHASE, t - b->arrive);
            if (seats_bought >= total_seats && sold_out_at < 0)
                sold_out_at = t;
        } else {
            unexpected_answer(b, st);
        }
        finish(b);
        break;
    case S_GIVEUP:
        if (st != 204)
            unexpected_answer(b, st);
        finish(b);
        break;
    default:
        finish(b);
        break;
    }
    json_object_put(o);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(int k, double p)
{
    if (nlat[k] == 0)
        return 0;
    qsort(lat[k], (size_t)nlat[k], sizeof(double), cmp_double);
    long i = (long)ceil(p * (double)nlat[k]) - 1;
    if (i < 0)
        i = 0;
    return lat[k][i] * 1000;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* Spearman's rho of arrival index against admission sequence over the admitted buyers (both
 * ranks are without ties: arrival indexes and admission numbers are distinct). */
static double fairness(struct buyer *bs, int n)
{
    long m = 0;
    long *ar = malloc(sizeof(long) * (size_t)n), *ad = malloc(sizeof(long) * (size_t)n);
    for (int i = 0; i < n; i++)
        if (bs[i].admitted) {
            ar[m] = i;
            ad[m] = bs[i].admit_seq;
            m++;
        }
    /* ranks: arrival indexes are increasing in i, so the arrival rank is the position m;
     * admission numbers are 0..admit_next-1 with some never given to these (all are). Rank
     * them by sorting a copy. */
    long *sorted = malloc(sizeof(long) * (size_t)(m > 0 ? m : 1));
    memcpy(sorted, ad, sizeof(long) * (size_t)m);
    qsort(sorted, (size_t)m, sizeof(long), cmp_long);
    double d2 = 0;
    for (long k = 0; k < m; k++) {
        long *pos = bsearch(&ad[k], sorted, (size_t)m, sizeof(long), cmp_long);
        double d = (double)(pos - sorted) - (double)k;
        d2 += d * d;
    }
    double rho = m > 1 ? 1 - 6 * d2 / ((double)m * ((double)m * (double)m - 1)) : 1;
    free(ar);
    free(ad);
    free(sorted);
    return rho;
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: s7 BASE USERS OFFSET COUNT CONCERT FIRST LAST ARRIVAL_S "
                        "DEADLINE_S CONNS\n");
        return 2;
    }
    base = argv[1];
    long offset = atol(argv[3]), count = atol(argv[4]);
    concert = atoll(argv[5]);
    first_sched = atoi(argv[6]);
    nsched = atoi(argv[7]) - first_sched + 1;
    double arrival = atof(argv[8]), deadline = atof(argv[9]);
    long conns = atol(argv[10]);
    total_seats = 0;

    /* users */
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 2;
    }
    char line[128];
    long ln = 0;
    struct buyer *bs = calloc((size_t)count, sizeof(*bs));
    int n = 0;
    while (n < count && fgets(line, sizeof(line), f) != NULL) {
        if (ln++ < offset)
            continue;
        line[strcspn(line, " \t\r\n")] = '\0';
        bs[n].user = strdup(line);
        n++;
    }
    fclose(f);
    if (n < count) {
        fprintf(stderr, "s7: only %d users after line %ld\n", n, offset);
        return 2;
    }
    const char *ts = getenv("S7_SEATS"); /* seats on sale (all of the schedules' seats) */
    total_seats = ts ? atol(ts) : (long)nsched * 50;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, conns);
    heap = malloc(sizeof(*heap) * (size_t)(n + 1));
    t0 = cr_client_now_s();
    for (int i = 0; i < n; i++) {
        struct buyer *b = &bs[i];
        b->idx = i;
        b->seed = 0x9e3779b9u * (unsigned)(i + 1);
        b->want = 1 + (int)(rand_r(&b->seed) % 2);
        b->schedule = first_sched + i % nsched;
        b->arrive = t0 + arrival * i / n;
        b->step = S_JOIN;
        b->easy = cr_client_easy(&b->body);
        curl_easy_setopt(b->easy, CURLOPT_PRIVATE, b);
        heap_push(b->arrive, b);
    }

    int done = 0;
    while (!done) {
        double t = cr_client_now_s();
        while (nheap > 0 && heap[0].at <= t) {
            struct timer tm = heap_pop();
            if (tm.b->step == S_JOIN && tm.b->sent == 0)
                tm.b->arrive = t;
            send_step(tm.b);
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct buyer *b = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&b);
            on_done(b, msg->data.result);
        }
        t = cr_client_now_s();
        if (finished == n || t - t0 > deadline || (sold_out_at > 0 && inflight == 0))
            done = 1;
        int wait_ms = 20;
        if (nheap > 0) {
            double d = (heap[0].at - t) * 1000;
            wait_ms = d < 0 ? 0 : d < 20 ? (int)d : 20;
        }
        if (!done)
            curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }

    double sale = (sold_out_at > 0 ? sold_out_at : last_pay_at) - t0;
    printf("RESULT buyers=%d purchases=%ld seats=%ld sold_out_s=%.2f rps=%.1f req=%ld "
           "transport=%ld unexpected=%ld max_active=%ld fairness=%.4f admitted=%ld codes=",
           n, purchases, seats_bought, sold_out_at > 0 ? sold_out_at - t0 : -1.0,
           sale > 0 ? purchases / sale : 0, requests, transport, unexpected, max_active,
           fairness(bs, n), admit_next);
    int first = 1;
    for (int s = 0; s < MAX_STATUS; s++)
        if (statuses[s] > 0) {
            printf("%s%d:%ld", first ? "" : ",", s, statuses[s]);
            first = 0;
        }
    for (int k = 0; k < S_NSTEPS + 2; k++) {
        const char *name = k == L_WAIT ? "wait" : k == L_PURCHASE ? "purchase" : step_names[k];
        printf(" p50_%s_ms=%.1f p99_%s_ms=%.1f", name, pct(k, 0.5), name, pct(k, 0.99));
    }
    printf("\n");
    return 0;
}
