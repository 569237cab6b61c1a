/* cr_hold.c: seat holds decided by optimistic locking, reads, cancels and the expiry batches.
 *
 * Every race here is decided by a conditional UPDATE whose affected-row count says who won;
 * nothing is decided by what an earlier SELECT saw. Every statement compares times with the
 * now_ms its caller passes (never NOW(3)), so the parts of one request agree with each other
 * and with the seat map of cr_catalog: a hold is live while its expiry is > now.
 *
 * Lock order (see cr_hold.h): users, then reservations, then seats. A transaction here never
 * waits for a lock while it holds a seat row, so holds, cancels and the expiry job cannot
 * deadlock one another; cr_db_txn reruns the rare deadlock with anything else. */
#include <string.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_hold.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_metrics.h"

/* --- statements ------------------------------------------------------------------------ */

/* Serialises the holds of one user (and only that user) until COMMIT: the count of live
 * holds that follows cannot miss a concurrent hold of the same user. Parameter: user id. */
static const char cr_hold_sql_lock_user[] = "SELECT id FROM users WHERE id = ? FOR UPDATE";

/* The seat to hold, through uq_seats_schedule_seat, and only when its number is within the
 * schedule's seats. Parameters: schedule id, seat number. */
static const char cr_hold_sql_seat[] =
    "SELECT t.id, t.price, t.status, t.holder_user_id, t.reservation_id, t.hold_expires_at,"
    " t.version"
    " FROM seats AS t JOIN schedules AS s ON s.id = t.schedule_id"
    " WHERE t.schedule_id = ? AND t.seat_no = ? AND t.seat_no <= s.total_seats";

/* A reservation by its internal id (the seat's current hold). Parameter: reservation id. */
static const char cr_hold_sql_by_id[] =
    "SELECT uuid, status, expires_at FROM reservations WHERE id = ?";

/* The user's live holds, from ix_reservations_user_status_expires alone.
 * Parameters: user id, now. */
static const char cr_hold_sql_count[] = "SELECT COUNT(*) FROM reservations"
                                        " WHERE user_id = ? AND status = 'HELD' AND expires_at > ?";

/* Expires one hold whose time ran out; only one writer can change it. Parameters:
 * reservation id, now. */
static const char cr_hold_sql_expire_one[] =
    "UPDATE reservations SET status = 'EXPIRED', version = version + 1"
    " WHERE id = ? AND status = 'HELD' AND expires_at <= ?";

/* Parameters: uuid, user id, seat id, schedule id, seat number, price, expiry. */
static const char cr_hold_sql_insert[] =
    "INSERT INTO reservations"
    " (uuid, user_id, seat_id, schedule_id, seat_no, price, status, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, 'HELD', ?)";

/* The one statement that decides a hold: the seat is still at the version read, free (or its
 * hold ran out), and the schedule's sales are open as of now. The opening is part of the
 * condition, not a read before it, so no hold can slip in between a check and the write at the
 * opening second, nor after concert-admin moved the opening later. Parameters: user id,
 * reservation id, expiry, schedule id, seat number, the version read, now, now. */
static const char cr_hold_sql_take[] =
    "UPDATE seats SET status = 'HELD', holder_user_id = ?, reservation_id = ?,"
    " hold_expires_at = ?, version = version + 1"
    " WHERE schedule_id = ? AND seat_no = ? AND version = ?"
    " AND (status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= ?))"
    " AND EXISTS (SELECT 1 FROM schedules AS s"
    "             WHERE s.id = seats.schedule_id AND s.sales_open_at <= ?)";

/* After the take changed nothing: 1 when that was because sales are not open as of now (the
 * latest committed opening: the session reads READ COMMITTED). Parameters: now, schedule id. */
static const char cr_hold_sql_not_open[] =
    "SELECT sales_open_at > ? FROM schedules WHERE id = ?";

/* A reservation with its seat's state, for reads and cancels. Parameter: uuid. */
static const char cr_hold_sql_by_uuid[] =
    "SELECT r.id, r.user_id, r.schedule_id, r.seat_no, r.price, r.status, r.expires_at,"
    " r.version, t.id, t.version, t.status, t.reservation_id"
    " FROM reservations AS r LEFT JOIN seats AS t ON t.id = r.seat_id"
    " WHERE r.uuid = ?";

/* Ends a HELD reservation (status CANCELLED or EXPIRED) if it is still the version read.
 * Parameters: new status, reservation id, version. */
static const char cr_hold_sql_end[] =
    "UPDATE reservations SET status = ?, version = version + 1"
    " WHERE id = ? AND version = ? AND status = 'HELD'";

/* Frees a seat still held for the given reservation at the version read. Parameters: seat
 * id, version, reservation id. */
static const char cr_hold_sql_free_seat_v[] =
    "UPDATE seats SET status = 'AVAILABLE', holder_user_id = NULL, reservation_id = NULL,"
    " hold_expires_at = NULL, version = version + 1"
    " WHERE id = ? AND version = ? AND reservation_id = ? AND status = 'HELD'";

/* Frees a seat still held for the given reservation (whose row the caller has just changed
 * under its lock, so nobody else can be changing the seat for it). Parameters: seat id,
 * reservation id. */
static const char cr_hold_sql_free_seat[] =
    "UPDATE seats SET status = 'AVAILABLE', holder_user_id = NULL, reservation_id = NULL,"
    " hold_expires_at = NULL, version = version + 1"
    " WHERE id = ? AND reservation_id = ? AND status = 'HELD'";

/* Puts a seat sold to the given reservation back on sale. Parameters: seat id, reservation
 * id. */
static const char cr_hold_sql_unsell_seat[] =
    "UPDATE seats SET status = 'AVAILABLE', holder_user_id = NULL, reservation_id = NULL,"
    " hold_expires_at = NULL, version = version + 1"
    " WHERE id = ? AND reservation_id = ? AND status = 'SOLD'";

/* The oldest run-out holds, a range scan of ix_reservations_status_expires in index order.
 * Parameters: now, batch size. */
static const char cr_hold_sql_expired[] =
    "SELECT id, seat_id FROM reservations"
    " WHERE status = 'HELD' AND expires_at <= ?"
    " ORDER BY expires_at, id LIMIT ?";

/* --- helpers --------------------------------------------------------------------------- */

static enum cr_hold_status cr_hold_status_parse(const char *s)
{
    if (strcmp(s, "PAID") == 0)
        return CR_HOLD_PAID;
    if (strcmp(s, "EXPIRED") == 0)
        return CR_HOLD_EXPIRED;
    if (strcmp(s, "CANCELLED") == 0)
        return CR_HOLD_CANCELLED;
    if (strcmp(s, "REFUNDED") == 0)
        return CR_HOLD_REFUNDED;
    return CR_HOLD_HELD;
}

/* The status a reservation reads as at now_ms: a HELD one whose time ran out is EXPIRED. */
static enum cr_hold_status cr_hold_visible(const char *status, long long expires_at,
                                           long long now_ms)
{
    enum cr_hold_status s = cr_hold_status_parse(status);
    return s == CR_HOLD_HELD && expires_at <= now_ms ? CR_HOLD_EXPIRED : s;
}

enum cr_hold_status cr_hold_status_at(const char *status, long long expires_at, long long now_ms)
{
    return cr_hold_visible(status, expires_at, now_ms);
}

const char *cr_hold_status_name(enum cr_hold_status s)
{
    switch (s) {
    case CR_HOLD_PAID:
        return "PAID";
    case CR_HOLD_EXPIRED:
        return "EXPIRED";
    case CR_HOLD_CANCELLED:
        return "CANCELLED";
    case CR_HOLD_REFUNDED:
        return "REFUNDED";
    case CR_HOLD_HELD:
    default:
        return "HELD";
    }
}

json_object *cr_hold_json(const struct cr_hold *h)
{
    json_object *o = json_object_new_object();
    cr_json_add_uuid(o, "reservationId", &h->id);
    cr_json_add_uuid(o, "userId", &h->user);
    cr_json_add_int(o, "scheduleId", h->schedule_id);
    cr_json_add_int(o, "seatNo", h->seat_no);
    cr_json_add_int(o, "price", h->price);
    cr_json_add_str(o, "status", cr_hold_status_name(h->status));
    cr_json_add_time(o, "expiresAt", h->expires_at);
    return o;
}

/* --- holding a seat -------------------------------------------------------------------- */

struct cr_hold_seat_ctx {
    struct cr_arena *a;
    const struct cr_uuid *user;
    long long user_id, schedule_id, seat_no, now, hold_ms;
    int max_holds;
    struct cr_hold *out; /* out */
    int created;         /* out */
    int took_over;       /* out: the run-out hold it replaced was expired by it */
};

/* The user asks again for the seat it holds: its live reservation, unchanged. */
static int cr_hold_seat_again(struct cr_hold_seat_ctx *c, long long reservation_id,
                              long long price)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(reservation_id)};
    int rc = cr_db_query(c->a, cr_hold_sql_by_id, p, 1, &rows);
    if (rc != CR_OK)
        return rc;
    if (rows.nrows == 0 || CR_DB_CELL(&rows, 0, 0)->len != 16 ||
        cr_hold_visible(CR_DB_CELL(&rows, 0, 1)->s, CR_DB_CELL(&rows, 0, 2)->i, c->now) !=
            CR_HOLD_HELD)
        return CR_E_SEAT_UNAVAILABLE; /* not a live hold after all */
    memcpy(c->out->id.b, CR_DB_CELL(&rows, 0, 0)->s, 16);
    c->out->user = *c->user;
    c->out->schedule_id = c->schedule_id;
    c->out->seat_no = c->seat_no;
    c->out->price = price;
    c->out->status = CR_HOLD_HELD;
    c->out->expires_at = CR_DB_CELL(&rows, 0, 2)->i;
    c->created = 0;
    return CR_OK;
}

/* The hold transaction. The seat's version is read with a plain (non-locking) SELECT and the
 * conditional UPDATE takes the seat only if that version is still current and the seat is
 * AVAILABLE or its hold ran out. InnoDB makes concurrent UPDATEs of the row wait for one
 * another and re-evaluates the WHERE on the latest committed row, so of any number of
 * requests that read the same version exactly one matches; the others see 0 rows, which
 * means someone else won (409), and their whole transaction rolls back. The SELECT only
 * spares the losers work: what it saw never decides anything. */
static int cr_hold_seat_txn(void *arg)
{
    struct cr_hold_seat_ctx *c = arg;
    struct cr_db_rows rows;
    long long affected = 0, reservation_id = 0;
    int rc;

    c->created = 0;
    c->took_over = 0;
    struct cr_db_val pu[] = {CR_DB_I(c->user_id)};
    if ((rc = cr_db_query(c->a, cr_hold_sql_lock_user, pu, 1, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;

    struct cr_db_val ps[] = {CR_DB_I(c->schedule_id), CR_DB_I(c->seat_no)};
    if ((rc = cr_db_query(c->a, cr_hold_sql_seat, ps, 2, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;
    long long seat_id = CR_DB_CELL(&rows, 0, 0)->i;
    long long price = CR_DB_CELL(&rows, 0, 1)->i;
    const char *status = CR_DB_CELL(&rows, 0, 2)->s;
    const struct cr_db_val *holder = CR_DB_CELL(&rows, 0, 3);
    const struct cr_db_val *prev = CR_DB_CELL(&rows, 0, 4);
    const struct cr_db_val *until = CR_DB_CELL(&rows, 0, 5);
    long long version = CR_DB_CELL(&rows, 0, 6)->i;
    int held = strcmp(status, "HELD") == 0;
    int live = held && until->type == CR_DB_TIME && until->i > c->now;

    if (live && holder->type == CR_DB_INT && holder->i == c->user_id &&
        prev->type == CR_DB_INT)
        return cr_hold_seat_again(c, prev->i, price);
    if (live || strcmp(status, "SOLD") == 0)
        return CR_E_SEAT_UNAVAILABLE;

    struct cr_db_val pc[] = {CR_DB_I(c->user_id), CR_DB_T(c->now)};
    if ((rc = cr_db_query(c->a, cr_hold_sql_count, pc, 2, &rows)) != CR_OK)
        return rc;
    if (CR_DB_CELL(&rows, 0, 0)->i >= c->max_holds)
        return CR_E_HOLD_LIMIT;

    /* Taking over a hold that ran out: its reservation is expired in this transaction, and
     * rolls back with it should another request win the seat. */
    if (held && prev->type == CR_DB_INT) {
        long long gone = 0;
        struct cr_db_val pe[] = {CR_DB_I(prev->i), CR_DB_T(c->now)};
        if ((rc = cr_db_exec(cr_hold_sql_expire_one, pe, 2, &gone, NULL)) != CR_OK)
            return rc;
        c->took_over = gone == 1;
    }

    struct cr_hold *h = c->out;
    if ((rc = cr_uuid_v7(&h->id, c->now)) != CR_OK)
        return rc;
    long long expires = c->now + c->hold_ms;
    struct cr_db_val pi[] = {CR_DB_UUID(&h->id),     CR_DB_I(c->user_id), CR_DB_I(seat_id),
                             CR_DB_I(c->schedule_id), CR_DB_I(c->seat_no), CR_DB_I(price),
                             CR_DB_T(expires)};
    rc = cr_db_exec(cr_hold_sql_insert, pi, 7, NULL, &reservation_id);
    if (rc == CR_E_DUPLICATE)
        return CR_E_RETRY; /* a UUID clash (74 random bits): rerun with a fresh one */
    if (rc != CR_OK)
        return rc;

    struct cr_db_val pt[] = {CR_DB_I(c->user_id),     CR_DB_I(reservation_id),
                             CR_DB_T(expires),         CR_DB_I(c->schedule_id),
                             CR_DB_I(c->seat_no),      CR_DB_I(version),
                             CR_DB_T(c->now),          CR_DB_T(c->now)};
    if ((rc = cr_db_exec(cr_hold_sql_take, pt, 8, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1) {
        /* Lost the seat, or the sales are not open: the UPDATE decided, this only names why. */
        struct cr_db_val po[] = {CR_DB_T(c->now), CR_DB_I(c->schedule_id)};
        if ((rc = cr_db_query(c->a, cr_hold_sql_not_open, po, 2, &rows)) != CR_OK)
            return rc;
        if (rows.nrows == 1 && CR_DB_CELL(&rows, 0, 0)->i == 1)
            return CR_E_SALES_NOT_OPEN;
        return CR_E_SEAT_UNAVAILABLE; /* someone else took it since we read it */
    }

    h->user = *c->user;
    h->schedule_id = c->schedule_id;
    h->seat_no = c->seat_no;
    h->price = price;
    h->status = CR_HOLD_HELD;
    h->expires_at = expires;
    c->created = 1;
    return CR_OK;
}

/* The refusals a plain read of the seat can give, before any transaction: in a seat rush
 * nearly every request is for a seat somebody already holds, and saying so takes one read
 * instead of a transaction that locks the user's row (a third of the database round trips;
 * bench/RESULTS.md). What it refuses is true when it is read (the seat is sold, or held by
 * someone else, or not there), which is all a 409 or 404 says; it never grants anything: a
 * seat is only ever taken by the conditional UPDATE of cr_hold_seat_txn, which reads the seat
 * again under the user's lock. CR_OK means "go on to the transaction". */
static int cr_hold_seat_precheck(struct cr_hold_seat_ctx *c)
{
    struct cr_db_rows rows;
    struct cr_db_val ps[] = {CR_DB_I(c->schedule_id), CR_DB_I(c->seat_no)};
    int rc = cr_db_query(c->a, cr_hold_sql_seat, ps, 2, &rows);
    if (rc != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;
    const char *status = CR_DB_CELL(&rows, 0, 2)->s;
    const struct cr_db_val *holder = CR_DB_CELL(&rows, 0, 3);
    const struct cr_db_val *until = CR_DB_CELL(&rows, 0, 5);
    int live = strcmp(status, "HELD") == 0 && until->type == CR_DB_TIME && until->i > c->now;
    int mine = holder->type == CR_DB_INT && holder->i == c->user_id;
    if (strcmp(status, "SOLD") == 0 || (live && !mine))
        return CR_E_SEAT_UNAVAILABLE;
    return CR_OK;
}

int cr_hold_seat(struct cr_arena *a, const struct cr_uuid *user, long long user_id,
                 long long schedule_id, long long seat_no, long long now_ms, long long hold_ms,
                 int max_holds, struct cr_hold *out, int *created)
{
    struct cr_hold_seat_ctx c = {a,       user,    user_id,   schedule_id, seat_no,
                                 now_ms, hold_ms, max_holds, out,         0, 0};
    int rc = cr_hold_seat_precheck(&c);
    if (rc != CR_OK)
        return rc;
    rc = cr_db_txn(cr_hold_seat_txn, &c);
    if (rc == CR_OK)
        *created = c.created;
    if (rc == CR_OK && c.created)
        cr_catalog_touch(a, schedule_id); /* committed: no copy may show the seat free now */
    if (rc == CR_OK && c.took_over)
        cr_metrics_inc(CR_M_HOLDS_EXPIRED); /* counted once committed */
    return rc;
}

/* --- reading and cancelling ------------------------------------------------------------ */

/* Columns of cr_hold_sql_by_uuid. */
enum {
    CR_HOLD_C_ID,
    CR_HOLD_C_USER,
    CR_HOLD_C_SCHEDULE,
    CR_HOLD_C_SEAT_NO,
    CR_HOLD_C_PRICE,
    CR_HOLD_C_STATUS,
    CR_HOLD_C_EXPIRES,
    CR_HOLD_C_VERSION,
    CR_HOLD_C_SEAT_ID,
    CR_HOLD_C_SEAT_VERSION,
    CR_HOLD_C_SEAT_STATUS,
    CR_HOLD_C_SEAT_RESERVATION
};

/* Reads reservation id into rows and checks that user_id owns it. */
static int cr_hold_load(struct cr_arena *a, const struct cr_uuid *id, long long user_id,
                        struct cr_db_rows *rows)
{
    struct cr_db_val p[] = {CR_DB_UUID(id)};
    int rc = cr_db_query(a, cr_hold_sql_by_uuid, p, 1, rows);
    if (rc != CR_OK)
        return rc;
    if (rows->nrows == 0)
        return CR_E_NOT_FOUND;
    if (CR_DB_CELL(rows, 0, CR_HOLD_C_USER)->i != user_id)
        return CR_E_FORBIDDEN;
    return CR_OK;
}

int cr_hold_get(struct cr_arena *a, const struct cr_uuid *id, const struct cr_uuid *user,
                long long user_id, long long now_ms, struct cr_hold *out)
{
    struct cr_db_rows rows;
    int rc = cr_hold_load(a, id, user_id, &rows);
    if (rc != CR_OK)
        return rc;
    out->id = *id;
    out->user = *user;
    out->schedule_id = CR_DB_CELL(&rows, 0, CR_HOLD_C_SCHEDULE)->i;
    out->seat_no = CR_DB_CELL(&rows, 0, CR_HOLD_C_SEAT_NO)->i;
    out->price = CR_DB_CELL(&rows, 0, CR_HOLD_C_PRICE)->i;
    out->expires_at = CR_DB_CELL(&rows, 0, CR_HOLD_C_EXPIRES)->i;
    out->status =
        cr_hold_visible(CR_DB_CELL(&rows, 0, CR_HOLD_C_STATUS)->s, out->expires_at, now_ms);
    return CR_OK;
}

struct cr_hold_cancel_ctx {
    struct cr_arena *a;
    const struct cr_uuid *id;
    long long user_id, now;
    enum cr_metric ended; /* out: what this call made of it; CR_M_COUNT: nothing */
    long long freed_schedule; /* out: the schedule of the seat it freed; 0: none */
};

/* The cancel transaction: the reservation, then its seat, each changed only if it is still
 * the version read. Zero rows means a concurrent payment, cancel or expiry changed it since:
 * CR_E_RETRY makes cr_db_txn roll back and rerun, and the rerun reads the new state. */
static int cr_hold_cancel_txn(void *arg)
{
    struct cr_hold_cancel_ctx *c = arg;
    struct cr_db_rows rows;
    long long affected = 0;
    c->ended = CR_M_COUNT;
    c->freed_schedule = 0;
    int rc = cr_hold_load(c->a, c->id, c->user_id, &rows);
    if (rc != CR_OK)
        return rc;
    long long expires = CR_DB_CELL(&rows, 0, CR_HOLD_C_EXPIRES)->i;
    switch (cr_hold_status_parse(CR_DB_CELL(&rows, 0, CR_HOLD_C_STATUS)->s)) {
    case CR_HOLD_PAID:
        return CR_E_ALREADY_PAID;
    case CR_HOLD_EXPIRED:
    case CR_HOLD_CANCELLED:
    case CR_HOLD_REFUNDED:
        return CR_OK; /* already over: nothing to change */
    case CR_HOLD_HELD:
        break;
    }

    long long rid = CR_DB_CELL(&rows, 0, CR_HOLD_C_ID)->i;
    const char *end = expires <= c->now ? "EXPIRED" : "CANCELLED";
    struct cr_db_val pr[] = {CR_DB_STRZ(end), CR_DB_I(rid),
                             CR_DB_I(CR_DB_CELL(&rows, 0, CR_HOLD_C_VERSION)->i)};
    if ((rc = cr_db_exec(cr_hold_sql_end, pr, 3, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1)
        return CR_E_RETRY;
    c->ended = expires <= c->now ? CR_M_HOLDS_EXPIRED : CR_M_HOLDS_CANCELLED;

    const struct cr_db_val *seat_res = CR_DB_CELL(&rows, 0, CR_HOLD_C_SEAT_RESERVATION);
    const struct cr_db_val *seat_status = CR_DB_CELL(&rows, 0, CR_HOLD_C_SEAT_STATUS);
    if (seat_res->type != CR_DB_INT || seat_res->i != rid || seat_status->type != CR_DB_STR ||
        strcmp(seat_status->s, "HELD") != 0)
        return CR_OK; /* the seat was already let go of this hold */
    struct cr_db_val pt[] = {CR_DB_I(CR_DB_CELL(&rows, 0, CR_HOLD_C_SEAT_ID)->i),
                             CR_DB_I(CR_DB_CELL(&rows, 0, CR_HOLD_C_SEAT_VERSION)->i),
                             CR_DB_I(rid)};
    if ((rc = cr_db_exec(cr_hold_sql_free_seat_v, pt, 3, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1)
        return CR_E_RETRY;
    c->freed_schedule = CR_DB_CELL(&rows, 0, CR_HOLD_C_SCHEDULE)->i;
    return CR_OK;
}

int cr_hold_cancel(struct cr_arena *a, const struct cr_uuid *id, long long user_id,
                   long long now_ms)
{
    struct cr_hold_cancel_ctx c = {a, id, user_id, now_ms, CR_M_COUNT, 0};
    int rc = cr_db_txn(cr_hold_cancel_txn, &c);
    if (rc == CR_OK && c.freed_schedule != 0)
        cr_catalog_touch(a, c.freed_schedule); /* a live hold let go: copies show it HELD */
    if (rc == CR_OK && c.ended != CR_M_COUNT)
        cr_metrics_inc(c.ended); /* counted once committed */
    return rc;
}

/* --- refunds ----------------------------------------------------------------------------- */

/* The refund (cr_refund.c) holds the reservation's row lock, and only a refund of that
 * reservation could change a seat SOLD to it, so the seat's state is known: no version read
 * is needed, the conditional UPDATE is the check. A concurrent hold of the seat reads it SOLD
 * and is refused, or reads the new version after our COMMIT and may take it; its own
 * version-checked UPDATE waits for our row lock and re-reads, so neither can lose the other's
 * write. */
int cr_hold_seat_refund(long long seat_id, long long reservation_id)
{
    long long affected = 0;
    struct cr_db_val p[] = {CR_DB_I(seat_id), CR_DB_I(reservation_id)};
    int rc = cr_db_exec(cr_hold_sql_unsell_seat, p, 2, &affected, NULL);
    if (rc != CR_OK)
        return rc;
    if (affected != 1) {
        cr_log_error("reservation %lld is PAID but seat %lld is not sold to it", reservation_id,
                     seat_id);
        return CR_E_INTERNAL;
    }
    return CR_OK;
}

/* --- the expiry job -------------------------------------------------------------------- */

struct cr_hold_expire_ctx {
    struct cr_arena *a;
    long long now;
    int batch_size;
    int found;          /* out: candidates read */
    long long released; /* out: holds this transaction released */
};

/* One batch. Another copy of the job may be releasing the same rows: the reservation's
 * conditional UPDATE lets exactly one of them change it (the other waits for the row lock,
 * then finds it no longer HELD and skips it), and only the winner counts it and frees the
 * seat. Rows are visited in index order, so two copies take their locks in the same order
 * and queue behind each other instead of deadlocking. */
static int cr_hold_expire_txn(void *arg)
{
    struct cr_hold_expire_ctx *c = arg;
    struct cr_db_rows rows;
    int rc;

    c->found = 0;
    c->released = 0; /* a rerun after a deadlock starts over */
    struct cr_db_val p[] = {CR_DB_T(c->now), CR_DB_I(c->batch_size)};
    if ((rc = cr_db_query(c->a, cr_hold_sql_expired, p, 2, &rows)) != CR_OK)
        return rc;
    c->found = rows.nrows;
    for (int r = 0; r < rows.nrows; r++) {
        long long rid = CR_DB_CELL(&rows, r, 0)->i, affected = 0;
        struct cr_db_val pe[] = {CR_DB_I(rid), CR_DB_T(c->now)};
        if ((rc = cr_db_exec(cr_hold_sql_expire_one, pe, 2, &affected, NULL)) != CR_OK)
            return rc;
        if (affected != 1)
            continue; /* released, cancelled or paid by someone else meanwhile */
        c->released++;
        struct cr_db_val pf[] = {CR_DB_I(CR_DB_CELL(&rows, r, 1)->i), CR_DB_I(rid)};
        if ((rc = cr_db_exec(cr_hold_sql_free_seat, pf, 2, NULL, NULL)) != CR_OK)
            return rc;
    }
    return CR_OK;
}

int cr_hold_expire_batch(struct cr_arena *a, long long now_ms, int batch_size,
                         long long *released)
{
    struct cr_hold_expire_ctx c = {a, now_ms, batch_size, 0, 0};
    int rc = CR_OK;

    *released = 0;
    if (batch_size < 1 || batch_size > 10000)
        return CR_E_INVALID;
    /* Until a batch comes back short; or until one in which nothing was ours to release,
     * which means another copy is working through the same rows and will finish them. */
    for (;;) {
        if ((rc = cr_db_txn(cr_hold_expire_txn, &c)) != CR_OK) {
            cr_log_warn("releasing expired holds failed after %lld", *released);
            break;
        }
        *released += c.released;
        cr_metrics_add(CR_M_HOLDS_EXPIRED, c.released);
        if (c.found < batch_size || c.released == 0)
            break;
    }
    return rc;
}
