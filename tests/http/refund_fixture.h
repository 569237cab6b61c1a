/* refund_fixture.h: what the refund test programs share on top of payment_fixture: refund
 * requests, a paid seat in one call, bench/invariants.sql run against the test stack, and the
 * money rule (a balance is the sum of its entries). */
#ifndef REFUND_FIXTURE_H
#define REFUND_FIXTURE_H

#include "payment_fixture.h"

#define RF_MAX_INVARIANTS 64

/* The rows of one run of bench/invariants.sql: each invariant's name and count. */
struct rf_invariants {
    int n;
    char name[RF_MAX_INVARIANTS][64];
    long long count[RF_MAX_INVARIANTS];
};

/* Thread-safe, no asserts. rf_refund: POST /api/v1/reservations/{rid}/refund with u's token
 * (auth: another "Authorization: ..." header, or NULL for u's); the HTTP status, the response
 * in *r. rf_buy: holds seat of schedule for u and pays it, then gives u a fresh token (the
 * paying one is spent); 1 when paid (the reservation id in rid), 0 when the seat was taken
 * (409) or the hold ran out before the payment (410), -1 on anything else. */
long rf_refund(struct cr_test_res *r, const struct fx_user *u, const char *rid,
               const char *auth);
int rf_buy(struct fx_user *u, long long schedule, int seat, char *rid);

/* Main thread. rf_invariants_run: runs bench/invariants.sql as root over the stack's socket
 * (CR_STACK_DIR) and asserts it ran. rf_invariants_not_grown: asserts that no count of after
 * is above before's. Other test programs share the stack and some break an invariant on
 * purpose (a balance set by hand, a reservation made PAID without a payment), so a test proves
 * that its own load broke nothing by comparing with a run made before it. */
void rf_invariants_run(struct rf_invariants *out);
void rf_invariants_not_grown(const struct rf_invariants *before, const struct rf_invariants *after);

/* Asserts the money rule for user (public id): its balance is the sum of its entries, and
 * each entry's balance_after is the running sum up to it. */
void rf_assert_money_rule(const char *user);
/* The user's balance_entries of type, their count and (into *sum when not NULL) their sum. */
long long rf_entries(const char *user, const char *type, long long *sum);

#endif
