/* payment_fixture.h: what the payment test programs share: their own concert and seats, users
 * with money and tokens made through the API, payment requests, the expiry job, and checks
 * of the database afterwards. */
#ifndef PAYMENT_FIXTURE_H
#define PAYMENT_FIXTURE_H

#include "cr_db.h"
#include "cr_test.h"

/* A user of the API with its current queue token. */
struct fx_user {
    char id[37];
    char token[300];
    char auth[400]; /* "Authorization: Bearer <token>" */
};

/* cr_test_init() and a concert of this program's own, far in the future; fx_cleanup removes
 * it with its schedules and seats (the reservations and payments stay, like real ones). */
void fx_init(const char *name);
void fx_cleanup(void);
/* A new schedule of that concert with nseats seats; seat n costs 1000 * n. */
long long fx_schedule(int nseats);

/* These run on threads: no cmocka asserts, the result says how it went.
 * fx_user_new: a new user charged with balance (0: none) and a queue token; returns 1 when
 * the token is ACTIVE, 0 when it waits, -1 on any error. fx_token: a (new) token for u, same
 * result. fx_hold: holds a seat; the HTTP status, with the reservation id in rid (37 bytes)
 * and its expiry in *expires (ms) when 201. fx_pay: POST /api/v1/payments paying rids[0..n)
 * with u's token (or auth when not NULL) and an Idempotency-Key when key is not NULL; the
 * HTTP status. fx_expire: runs one concert-expire and returns its exit status, its
 * historyWritten in *written and its holdsReleased in *released (either may be NULL). */
int fx_user_new(struct fx_user *u, long long balance);
int fx_token(struct fx_user *u);
long fx_hold(const struct fx_user *u, long long schedule, int seat, char *rid, long long *expires);
long fx_pay(struct cr_test_res *r, const struct fx_user *u, const char *const *rids, int n,
            const char *key);
long fx_pay_raw(struct cr_test_res *r, const char *auth, const char *body, const char *key);
int fx_expire(long long *written, long long *released);

/* Checks, on the main thread. */
long long fx_user_db_id(const char *user);
long long fx_balance(const char *user);
long long fx_reservation_db_id(const char *rid);
/* The status column of reservation rid / of its seat, in buf (16 bytes). */
const char *fx_res_status(const char *rid, char *buf);
const char *fx_seat_status(const char *rid, char *buf);
/* Rows of the user: payments, PAYMENT balance entries, payment_history rows. */
long long fx_payments(const char *user);
long long fx_payment_entries(const char *user);
long long fx_history_rows(const char *user);
/* The history is written just after the payment's answer: waits up to 2 s for the user's
 * row count to reach want and returns the count seen last. */
long long fx_history_rows_reach(const char *user, long long want);

#endif
