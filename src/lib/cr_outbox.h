/* cr_outbox.h: the transactional outbox: rows written inside a business transaction, turned
 * into their read-model rows afterwards (kind PAYMENT_HISTORY: one payment_history row; kind
 * PAYMENT_REFUND: the refunded amount of that row).
 *
 * A row is delivered at most once and, given retries, at least once: the delivery locks the
 * outbox row, writes the read-model row with an insert that a UNIQUE key makes a no-op the
 * second time, and flips the row to DONE only while it is still PENDING, all in one
 * transaction. So the post-commit step of a payment and any number of concert-expire runs may
 * race for one row and it is still written exactly once and counted once. */
#ifndef CR_OUTBOX_H
#define CR_OUTBOX_H

#include "cr_arena.h"

#define CR_OUTBOX_PAYMENT_HISTORY "PAYMENT_HISTORY"
/* One row per refunded payment, made PENDING again by each refund of it (cr_outbox_put_in_txn)
 * with the payment's whole history payload plus "refundedAmount", the total refunded so far.
 * Its delivery writes the history row if it is missing and otherwise only raises its
 * refunded_amount to that total (never lowers it), so deliveries in any order, repeated or
 * racing the payment's own, leave the row showing the latest refund. */
#define CR_OUTBOX_PAYMENT_REFUND "PAYMENT_REFUND"
#define CR_OUTBOX_DRAIN_BATCH 200 /* pending rows read per query by cr_outbox_drain */

/* Inside the caller's cr_db_txn(): adds a PENDING row of kind for payment_id with payload, a
 * JSON text (for PAYMENT_HISTORY: {"paymentId", "userId" (internal id), "reservationIds",
 * "amount", "paidAt"}, and for PAYMENT_REFUND the same plus "refundedAmount"). *id (may be NULL) gets the new row's id. CR_OK, CR_E_DUPLICATE when
 * that event of that payment exists, or a database error. */
int cr_outbox_add_in_txn(const char *kind, long long payment_id, const char *payload,
                         long long *id);

/* Inside the caller's cr_db_txn(), which must hold a lock that serialises the writers of this
 * (kind, payment_id) event (for PAYMENT_REFUND: the payments row): adds the row, or when it
 * exists replaces its payload and makes it PENDING again. *id (may be NULL) gets the row's id.
 * CR_OK or a database error. */
int cr_outbox_put_in_txn(struct cr_arena *a, const char *kind, long long payment_id,
                         const char *payload, long long *id);

/* Delivers outbox row id in its own transaction. *written (may be NULL) is 1 when this call
 * wrote it, 0 when it was already DONE (another process got there first). CR_OK, or an error
 * (the row stays PENDING for the next try and its attempts are counted): CR_E_INTERNAL for a
 * row that cannot be delivered (unknown kind, unreadable payload), or a database error. */
int cr_outbox_deliver(struct cr_arena *a, long long id, int *written);

/* Delivers every row that is PENDING when it starts (rows added meanwhile wait for the next
 * run), oldest first, going on past rows that fail; for the expiry job. Its memory is its own
 * and freed batch by batch, however long the backlog. *written is the number this call
 * delivered (rows another process delivered meanwhile are not counted), also when it fails
 * part way. CR_OK, or the first error met. */
int cr_outbox_drain(long long *written);

#endif
