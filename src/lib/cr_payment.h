/* cr_payment.h: paying held reservations in one transaction, the post-commit steps (queue
 * place given back, history row written from the outbox) and the payment history read. */
#ifndef CR_PAYMENT_H
#define CR_PAYMENT_H

#include <json-c/json.h>

#include "cr_arena.h"
#include "cr_idem.h"
#include "cr_uuid.h"

#define CR_PAYMENT_MAX_IDS 4    /* reservations paid at once: 1 to 4 */
#define CR_PAYMENT_LIST_MAX 100 /* payments the history read returns (newest first) */

/* One payment. Filled by cr_payment_pay; on failure only reason is meaningful. */
struct cr_payment {
    struct cr_uuid id;                             /* paymentId */
    struct cr_uuid user;                           /* userId */
    struct cr_uuid reservations[CR_PAYMENT_MAX_IDS]; /* in the order the client gave them */
    int nreservations;
    long long amount;     /* the total debited */
    long long balance;    /* the balance after the debit */
    long long paid_at;    /* ms */
    long long payment_id; /* internal payments.id */
    long long outbox_id;  /* the PAYMENT_HISTORY outbox row written with the payment */
    const char *reason;   /* on failure: a public message naming the deciding reservation
                           * (arena string), or NULL */
    int token_spent;      /* on CR_E_TOKEN_INVALID: the token had paid already */
};

/* One row of the payment history. reservation_ids is the JSON array text (arena-owned). */
struct cr_payment_item {
    struct cr_uuid id;
    const char *reservation_ids;
    long long amount;
    long long refunded; /* refundedAmount: the prices of its reservations refunded so far */
    long long paid_at;  /* ms */
};

/* Checks a requested set of reservation ids: 1 to CR_PAYMENT_MAX_IDS, no id twice. CR_OK or
 * CR_E_INVALID. */
int cr_payment_check_ids(const struct cr_uuid *ids, int n);

/* The Idempotency-Key fingerprint of paying ids: "ids=" and the lower-case ids sorted and
 * comma-separated, so the same set in any order is the same request. An arena string. */
const char *cr_payment_fingerprint(struct cr_arena *a, const struct cr_uuid *ids, int n);

/* Pays reservations ids[0..n) (checked as cr_payment_check_ids does) for the user with public
 * id user and internal id user_id, with the queue token token (may be NULL), as of now_ms, in
 * ONE transaction: the user's row is locked and the token must not have paid before (it is
 * stored, hashed, with the payment: spent exactly when the payment commits); then every
 * reservation is locked; each must be this user's, HELD and live (expires_at > now_ms);
 * the balance is debited once by the total, never below zero; every seat becomes SOLD and
 * every reservation PAID, each by a version-checked conditional UPDATE; the PAYMENT balance
 * entry, the payments row (a new UUIDv7) and a PAYMENT_HISTORY outbox row are inserted; and
 * idem (which may carry no key) records the 201 response. All or nothing.
 * On CR_OK, *out is the payment and *body the response's JSON text (in a); send exactly
 * *body. Errors, decided over the whole set in this order (out->reason names the first
 * reservation that decided it; a REFUNDED one counts as paid): CR_E_INVALID (bad ids),
 * CR_E_TOKEN_INVALID (the token paid already, out->token_spent is set: cr_payment_settle_token gives it back, since only
 * a crash between a payment's COMMIT and its give-back leaves such a token live),
 * CR_E_NOT_FOUND (an unknown reservation), CR_E_FORBIDDEN (another user's), CR_E_ALREADY_PAID, CR_E_EXPIRED (a hold that
 * ran out, is EXPIRED or CANCELLED, or lost its seat; holds that ran out are then released
 * in a separate transaction), CR_E_INSUFFICIENT (the balance is lower than the total),
 * CR_E_IN_PROGRESS (idem was taken over), or a database error. On any error nothing of the
 * payment was written. */
int cr_payment_pay(struct cr_arena *a, const struct cr_uuid *user, long long user_id,
                   const char *token, const struct cr_uuid *ids, int n, long long now_ms,
                   struct cr_idem *idem, struct cr_payment *out, const char **body);

/* Gives the payment's queue token back as spent, right after the COMMIT and before the
 * answer, so the token passes no gate from then on: cr_queue_leave with used = 1 admits the
 * next waiter and remembers the token for a replay. token may be NULL. A failure is logged
 * (the place then frees when the token's active time ends); it cannot undo the payment. */
void cr_payment_release_token(struct cr_arena *a, const char *token, const struct cr_payment *p);

/* After a replayed 201 (or a payment refused for a spent token): when token is the one that
 * made that payment (or any payment), gives
 * it back as spent, so the replay leaves it as spent as the first answer would have, even if
 * the first request died between its COMMIT and the give-back. Idempotent; a token that
 * never paid (another valid token of the user's) is left alone. Failures are logged. */
void cr_payment_settle_token(struct cr_arena *a, const char *token);

/* Writes the payment's history row from its outbox row; meant to run after the answer is
 * sent. fail_history (the TEST_FAIL_HISTORY switch) makes it fail as if the database had
 * refused. A failure is logged and the row stays PENDING for concert-expire. */
void cr_payment_write_history(struct cr_arena *a, const struct cr_payment *p, int fail_history);

/* The contract's 201 body {"paymentId", "userId", "reservationIds", "amount", "balance",
 * "status": "PAID", "paidAt"}; a new object owned by the caller. */
json_object *cr_payment_json(const struct cr_payment *p);

/* Writes the history rows of user user_id's payments that are still PENDING in the outbox
 * (their write after the answer has not happened yet, or failed), so that a read of the
 * history that follows a payment always shows it. fail_history: the TEST_FAIL_HISTORY switch,
 * under which nothing is written. A failure is logged and left to concert-expire. */
void cr_payment_flush_history(struct cr_arena *a, long long user_id, int fail_history);

/* The newest CR_PAYMENT_LIST_MAX payments of user user_id from payment_history (the read
 * model the outbox fills), newest first. *items is an arena array of *n. CR_OK or a database
 * error. */
int cr_payment_list(struct cr_arena *a, long long user_id, struct cr_payment_item **items,
                    int *n);

#endif
