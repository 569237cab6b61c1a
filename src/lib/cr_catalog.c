/* cr_catalog.c: catalogue queries, each a fixed number of statements served from indexes.
 *
 * A hold whose time ran out reads as AVAILABLE at once: every query compares
 * hold_expires_at with the now_ms its caller passes (not NOW(3)), so the seat map and the
 * availableSeats count of one request agree with each other and with the reservation code,
 * whether or not the expiry job has run. A hold is live while hold_expires_at > now. */
#include <stddef.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"

/* The list is small and static: a walk of the primary key in order. No parameters. */
const char cr_catalog_sql_concerts[] = "SELECT id, title, venue FROM concerts ORDER BY id";

/* A concert's upcoming schedules, read in order from ix_schedules_concert_starts
 * (concert_id, starts_at, id) without a filesort. availableSeats is counted per schedule
 * from ix_seats_schedule_status_expires (schedule_id, status, hold_expires_at) alone: a
 * covering lookup of one schedule's seats, never a scan of the table.
 * Parameters: now (hold expiry), concert id, now (upcoming). */
const char cr_catalog_sql_schedules[] =
    "SELECT s.id, s.starts_at, s.total_seats, s.sales_open_at,"
    " (SELECT COUNT(*) FROM seats AS t"
    "   WHERE t.schedule_id = s.id"
    "     AND (t.status = 'AVAILABLE' OR (t.status = 'HELD' AND t.hold_expires_at <= ?)))"
    " FROM schedules AS s"
    " WHERE s.concert_id = ? AND s.starts_at > ?"
    " ORDER BY s.starts_at, s.id";

/* Whether a concert exists, when it has no upcoming schedule. Parameter: concert id. */
const char cr_catalog_sql_concert[] = "SELECT id FROM concerts WHERE id = ?";

/* The schedule (const, by primary key) joined to its seats in seat order through
 * uq_seats_schedule_seat (schedule_id, seat_no): one ref lookup without a filesort. The
 * status comes back as the enum cr_seat_status code. Parameters: now, schedule id. */
const char cr_catalog_sql_seats[] =
    "SELECT sc.concert_id, sc.starts_at, t.seat_no, t.price,"
    " CASE WHEN t.status = 'SOLD' THEN 2"
    "      WHEN t.status = 'HELD' AND t.hold_expires_at > ? THEN 1"
    "      ELSE 0 END"
    " FROM schedules AS sc"
    " JOIN seats AS t ON t.schedule_id = sc.id"
    " WHERE sc.id = ?"
    " ORDER BY t.seat_no";

/* The schedule alone, when it has no seat rows. Parameter: schedule id. */
const char cr_catalog_sql_schedule[] = "SELECT concert_id, starts_at FROM schedules WHERE id = ?";

const char *const cr_catalog_sqls[] = {
    cr_catalog_sql_concerts, cr_catalog_sql_schedules, cr_catalog_sql_concert,
    cr_catalog_sql_seats,    cr_catalog_sql_schedule,  NULL,
};

int cr_catalog_concerts(struct cr_arena *a, struct cr_concert **out, int *n)
{
    struct cr_db_rows rows;
    int rc = cr_db_query(a, cr_catalog_sql_concerts, NULL, 0, &rows);
    if (rc != CR_OK)
        return rc;
    *out = NULL;
    *n = rows.nrows;
    if (rows.nrows > 0)
        *out = cr_arena_calloc(a, sizeof(**out) * (size_t)rows.nrows);
    for (int r = 0; r < rows.nrows; r++) {
        (*out)[r].id = CR_DB_CELL(&rows, r, 0)->i;
        (*out)[r].title = CR_DB_CELL(&rows, r, 1)->s;
        (*out)[r].venue = CR_DB_CELL(&rows, r, 2)->s;
    }
    return CR_OK;
}

int cr_catalog_schedules(struct cr_arena *a, long long concert_id, long long now_ms,
                         int available_only, struct cr_schedule **out, int *n)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_T(now_ms), CR_DB_I(concert_id), CR_DB_T(now_ms)};
    int rc = cr_db_query(a, cr_catalog_sql_schedules, p, 3, &rows);
    if (rc != CR_OK)
        return rc;
    *out = NULL;
    *n = 0;
    if (rows.nrows == 0) {
        struct cr_db_rows c;
        if ((rc = cr_db_query(a, cr_catalog_sql_concert, &p[1], 1, &c)) != CR_OK)
            return rc;
        return c.nrows == 0 ? CR_E_NOT_FOUND : CR_OK;
    }
    *out = cr_arena_calloc(a, sizeof(**out) * (size_t)rows.nrows);
    for (int r = 0; r < rows.nrows; r++) {
        struct cr_schedule *s = &(*out)[*n];
        s->id = CR_DB_CELL(&rows, r, 0)->i;
        s->starts_at = CR_DB_CELL(&rows, r, 1)->i;
        s->total_seats = CR_DB_CELL(&rows, r, 2)->i;
        s->sales_open_at = CR_DB_CELL(&rows, r, 3)->i;
        s->available_seats = CR_DB_CELL(&rows, r, 4)->i;
        if (!available_only || s->available_seats > 0)
            (*n)++;
    }
    return CR_OK;
}

int cr_catalog_seats(struct cr_arena *a, long long schedule_id, long long now_ms,
                     struct cr_seat_map *out)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_T(now_ms), CR_DB_I(schedule_id)};
    int rc = cr_db_query(a, cr_catalog_sql_seats, p, 2, &rows);
    if (rc != CR_OK)
        return rc;
    out->schedule_id = schedule_id;
    out->seats = NULL;
    out->nseats = 0;
    if (rows.nrows == 0) {
        struct cr_db_rows s;
        if ((rc = cr_db_query(a, cr_catalog_sql_schedule, &p[1], 1, &s)) != CR_OK)
            return rc;
        if (s.nrows == 0)
            return CR_E_NOT_FOUND;
        out->concert_id = CR_DB_CELL(&s, 0, 0)->i;
        out->starts_at = CR_DB_CELL(&s, 0, 1)->i;
        return CR_OK;
    }
    out->concert_id = CR_DB_CELL(&rows, 0, 0)->i;
    out->starts_at = CR_DB_CELL(&rows, 0, 1)->i;
    out->seats = cr_arena_calloc(a, sizeof(*out->seats) * (size_t)rows.nrows);
    out->nseats = rows.nrows;
    for (int r = 0; r < rows.nrows; r++) {
        struct cr_seat *s = &out->seats[r];
        s->seat_no = CR_DB_CELL(&rows, r, 2)->i;
        s->price = CR_DB_CELL(&rows, r, 3)->i;
        switch (CR_DB_CELL(&rows, r, 4)->i) {
        case CR_SEAT_SOLD:
            s->status = CR_SEAT_SOLD;
            break;
        case CR_SEAT_HELD:
            s->status = CR_SEAT_HELD;
            break;
        default:
            s->status = CR_SEAT_AVAILABLE;
            break;
        }
    }
    return CR_OK;
}

const char *cr_catalog_seat_status_name(enum cr_seat_status s)
{
    switch (s) {
    case CR_SEAT_HELD:
        return "HELD";
    case CR_SEAT_SOLD:
        return "SOLD";
    case CR_SEAT_AVAILABLE:
    default:
        return "AVAILABLE";
    }
}
