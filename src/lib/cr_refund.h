/* cr_refund.h: giving a paid seat back (API.md 17): one transaction that refunds the price,
 * puts the seat back on sale and records the refund on the payment and its history. */
#ifndef CR_REFUND_H
#define CR_REFUND_H

#include "cr_arena.h"
#include "cr_hold.h"
#include "cr_uuid.h"

/* What a refund did. */
struct cr_refund {
    struct cr_hold hold;  /* the reservation as the API shows it (status REFUNDED) */
    int refunded;         /* 1: this call refunded it; 0: it was REFUNDED already */
    long long outbox_id;  /* when refunded: the PAYMENT_REFUND outbox row to deliver */
    long long balance;    /* when refunded: the balance after the credit */
};

/* Refunds reservation id for the user with public id user and internal id user_id, as of
 * now_ms, when its schedule starts more than deadline_ms after now_ms. ONE transaction, in the
 * lock order of cr_hold.h (the user's row, the reservation, then the payment and the seat):
 * the reservation becomes REFUNDED, its seat AVAILABLE (cr_hold_seat_refund), the user's
 * balance grows by the reservation's price with a REFUND balance entry, the payment's
 * refunded_amount grows by the same price, and the payment's PAYMENT_REFUND outbox row carries
 * the new total; all or nothing. Concurrent refunds of one reservation run one after the
 * other on the user's row: the first refunds, the others find it REFUNDED.
 * CR_OK with *out (out->refunded says whether this call did it; a REFUNDED reservation is
 * CR_OK and nothing changes, whatever the time). Errors, in this order: CR_E_NOT_FOUND (no
 * such reservation), CR_E_FORBIDDEN (another user's), CR_E_NOT_PAID (HELD, EXPIRED or
 * CANCELLED), CR_E_REFUND_CLOSED (the show starts within deadline_ms, or has started), or a
 * database error; nothing changed. */
int cr_refund(struct cr_arena *a, const struct cr_uuid *id, const struct cr_uuid *user,
              long long user_id, long long now_ms, long long deadline_ms, struct cr_refund *out);

/* Writes the refund's payment history change from its outbox row; meant to run after the
 * answer is sent, like cr_payment_write_history (fail_history: the TEST_FAIL_HISTORY switch).
 * A failure is logged and the row stays PENDING for concert-expire. */
void cr_refund_write_history(struct cr_arena *a, const struct cr_refund *r, int fail_history);

#endif
