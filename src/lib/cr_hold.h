/* cr_hold.h: seat holds (reservations): taking a seat, reading, cancelling and expiring holds. */
#ifndef CR_HOLD_H
#define CR_HOLD_H

#include <json-c/json.h>

#include "cr_arena.h"
#include "cr_uuid.h"

/* Lock order, kept by every transaction here and expected of any other that writes these
 * rows (the payment, the refund): users row, then reservations rows, then (a refund) the
 * payments row, then seats rows. */

#define CR_HOLD_EXPIRE_BATCH 500 /* expired holds released per transaction by the job */

/* The status a reservation reads as. A HELD reservation whose time ran out reads EXPIRED,
 * whether or not anything has written that yet. */
enum cr_hold_status {
    CR_HOLD_HELD,
    CR_HOLD_PAID,
    CR_HOLD_EXPIRED,
    CR_HOLD_CANCELLED,
    CR_HOLD_REFUNDED
};

/* One reservation as the API shows it. */
struct cr_hold {
    struct cr_uuid id;   /* reservationId */
    struct cr_uuid user; /* userId (the owner) */
    long long schedule_id;
    long long seat_no;
    long long price;
    enum cr_hold_status status;
    long long expires_at; /* ms since the epoch, UTC */
};

/* Holds seat seat_no of schedule_id for the user (public id user, internal id user_id) as
 * of now_ms, for hold_ms milliseconds, if the user holds fewer than max_holds live seats.
 * One transaction: the user's row is locked (so one user's holds run one at a time and the
 * limit holds under concurrency), the reservation is inserted, the seat is taken by one
 * conditional UPDATE on its version, and a run-out hold the seat is taken over from is
 * marked EXPIRED; all or nothing. A plain read of the seat comes first and refuses a sold
 * seat or another user's live hold (or an unknown seat) without any transaction.
 * The seat's UPDATE also requires the schedule's sales to be open as of now_ms (sales_open_at
 * <= now_ms), so the opening is decided by the same statement as the seat.
 * On CR_OK, *out is the reservation and *created is 1 for a new hold, 0 when the user already
 * held this seat (the same reservation, unchanged). Otherwise CR_E_NOT_FOUND (no such
 * schedule or seat, or no such user), CR_E_SEAT_UNAVAILABLE (held by someone else or sold,
 * including losing the race for it), CR_E_SALES_NOT_OPEN (before the schedule's sales
 * opening), CR_E_HOLD_LIMIT, or a database error; nothing changed. */
int cr_hold_seat(struct cr_arena *a, const struct cr_uuid *user, long long user_id,
                 long long schedule_id, long long seat_no, long long now_ms, long long hold_ms,
                 int max_holds, struct cr_hold *out, int *created);

/* Reads reservation id for the user (public id user, internal id user_id) as of now_ms.
 * CR_OK with *out, CR_E_NOT_FOUND, CR_E_FORBIDDEN (another user's), or a database error. */
int cr_hold_get(struct cr_arena *a, const struct cr_uuid *id, const struct cr_uuid *user,
                long long user_id, long long now_ms, struct cr_hold *out);

/* Cancels reservation id of user user_id as of now_ms: a live HELD one becomes CANCELLED and
 * its seat AVAILABLE, in one transaction of version-checked updates. One already EXPIRED,
 * CANCELLED or REFUNDED changes nothing; a HELD one whose time ran out is expired instead (reservation
 * EXPIRED, seat AVAILABLE). CR_OK in all those cases; CR_E_ALREADY_PAID, CR_E_NOT_FOUND,
 * CR_E_FORBIDDEN, or a database error (nothing changed). */
int cr_hold_cancel(struct cr_arena *a, const struct cr_uuid *id, long long user_id,
                   long long now_ms);

/* Releases every hold whose time ran out by now_ms (reservation EXPIRED, seat AVAILABLE when
 * it still points at that reservation), batch_size (1 to 10000) a transaction. Each release
 * is a conditional update that only one writer can win, so two copies running at once
 * release each hold once and count it once. *released is the number this call released,
 * also when it fails part way (the committed batches). CR_OK or a database error. */
int cr_hold_expire_batch(struct cr_arena *a, long long now_ms, int batch_size,
                         long long *released);

/* Inside the caller's cr_db_txn(), which has locked reservation reservation_id (PAID, and
 * being refunded) as the lock order wants: puts seat seat_id, SOLD to that reservation, back
 * on sale (AVAILABLE, no holder, a new version), so that the next hold can take it at once.
 * CR_OK; CR_E_INTERNAL when the seat is not SOLD to that reservation (the caller rolls back:
 * the data broke an invariant); or a database error. One of the writers of seats: every
 * change of a seat's state goes through this file. */
int cr_hold_seat_refund(long long seat_id, long long reservation_id);

/* The contract's name of a status: "HELD", "PAID", "EXPIRED", "CANCELLED" or "REFUNDED"
 * (static). */
const char *cr_hold_status_name(enum cr_hold_status s);

/* The status a reservation's status column value reads as at now_ms (a HELD one whose time
 * ran out by then is EXPIRED). */
enum cr_hold_status cr_hold_status_at(const char *status, long long expires_at, long long now_ms);

/* The contract's reservation object {"reservationId", "userId", "scheduleId", "seatNo",
 * "price", "status", "expiresAt"}; a new object owned by the caller. */
json_object *cr_hold_json(const struct cr_hold *h);

#endif
