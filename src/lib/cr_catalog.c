/* cr_catalog.c: catalogue queries, each a fixed number of statements served from indexes, and
 * the seat-map read model (a per-worker copy of each map, checked by one primary-key read).
 *
 * A hold whose time ran out reads as AVAILABLE at once: every seat's status is decided
 * against the now_ms the caller passes (not NOW(3)), so the seat map and the availableSeats
 * count of one request agree with each other and with the reservation code, whether or not
 * the expiry job has run. A hold is live while hold_expires_at > now. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_queue.h"
#include "cr_redis.h"
#include "cr_time.h"

/* The list is small and static: a walk of the primary key in order. No parameters. */
const char cr_catalog_sql_concerts[] = "SELECT id, title, venue FROM concerts ORDER BY id";

/* A concert's upcoming schedules, read in order from ix_schedules_concert_starts
 * (concert_id, starts_at, id) without a filesort, each with its seat map's version (a
 * primary-key lookup per schedule): availableSeats is counted from the worker's copy of the
 * map when that copy is of this version, and the map is loaded only when it is not.
 * Parameters: concert id, now (upcoming). */
const char cr_catalog_sql_schedules[] =
    "SELECT s.id, s.starts_at, s.total_seats, COALESCE(v.version, 0), s.sales_open_at"
    " FROM schedules AS s"
    " LEFT JOIN seat_map_versions AS v ON v.schedule_id = s.id"
    " WHERE s.concert_id = ? AND s.starts_at > ?"
    " ORDER BY s.starts_at, s.id";

/* Whether a concert exists, when it has no upcoming schedule. Parameter: concert id. */
const char cr_catalog_sql_concert[] = "SELECT id FROM concerts WHERE id = ?";

/* A whole seat map with its version, in one statement and so from one read view (READ
 * COMMITTED gives each statement its own): the seats are exactly those of that version. The
 * schedule (const, by primary key) and its version row (const), joined to its seats in seat
 * order through uq_seats_schedule_seat (schedule_id, seat_no): one ref lookup without a
 * filesort. The status is the stored one as a code (SOLD 2, HELD 1, else 0) with its hold's
 * expiry: whether a hold is live is decided when the map is read, not when it is loaded. The
 * holder's UUID (a primary-key lookup per held seat) lets a hold refuse a seat held by someone
 * else without asking who the caller is (cr_catalog_seat_taken).
 * Parameter: schedule id. */
const char cr_catalog_sql_seats[] =
    "SELECT sc.concert_id, sc.starts_at, COALESCE(v.version, 0), t.seat_no, t.price,"
    " CASE WHEN t.status = 'SOLD' THEN 2 WHEN t.status = 'HELD' THEN 1 ELSE 0 END,"
    " t.hold_expires_at, u.uuid"
    " FROM schedules AS sc"
    " JOIN seats AS t ON t.schedule_id = sc.id"
    " LEFT JOIN seat_map_versions AS v ON v.schedule_id = sc.id"
    " LEFT JOIN users AS u ON u.id = t.holder_user_id"
    " WHERE sc.id = ?"
    " ORDER BY t.seat_no";

/* The schedule alone, when it has no seat rows. Parameter: schedule id. */
const char cr_catalog_sql_schedule[] = "SELECT concert_id, starts_at FROM schedules WHERE id = ?";

/* The version of a schedule's seat map: the one read a cached map costs. Parameter:
 * schedule id. */
const char cr_catalog_sql_seat_version[] =
    "SELECT version FROM seat_map_versions WHERE schedule_id = ?";

const char *const cr_catalog_sqls[] = {
    cr_catalog_sql_concerts,     cr_catalog_sql_schedules, cr_catalog_sql_concert,
    cr_catalog_sql_seats,        cr_catalog_sql_schedule,  cr_catalog_sql_seat_version,
    NULL,
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

/* --- the seat-map read model ----------------------------------------------------------
 *
 * Each worker keeps the maps it loaded, each with the version it was loaded at, in a
 * direct-mapped table of CR_CATALOG_CACHE_SLOTS slots (schedule ids are dense, so a sale's
 * schedules do not collide). The version in seat_map_versions is the truth: every write of a
 * seat bumps it in the write's own transaction (the triggers of sql/005_seat_map_version.sql),
 * and a copy whose version moved on is loaded again. The copy keeps each hold's expiry and the
 * status is decided against the reader's now, so a hold that ran out reads AVAILABLE at once.
 *
 * Asking MariaDB for the version costs a seat map as much as B2's whole request, so a copy is
 * also validated by a cheaper key: the schedule's generation in Redis (CR_CATALOG_GEN_KEY), a
 * value that every writer of seats in this library replaces with a new unique one after its
 * COMMIT and before it answers (cr_catalog_touch). A copy remembers the generation read before
 * the read of MariaDB that validated or loaded it; while Redis still holds that generation, no
 * library write of the schedule's seats has committed since, and the copy is served without
 * MariaDB. Readers never write a generation except to create a missing one (SET NX), so no
 * reader can put an old one back. Writes that do not go through the library (a hand-written
 * UPDATE, a loader) and a writer that dies between its COMMIT and its touch do not change the
 * generation: for those, a copy is trusted on its generation for CR_CATALOG_TRUST_MS at most
 * after MariaDB last confirmed it, then asks MariaDB again. Holds that run out need no touch
 * (they read AVAILABLE from the copy at once), so the expiry job and the release of run-out
 * holds do not touch. Without Redis (down) every read asks MariaDB, as before; so does every
 * read in the timed queue mode, whose reads make no Redis command at all (issue 14: its seat
 * map costs the version read, and no generation is read or written). Memory: at most the
 * slots' maps (50 seats: 2 KB each, and the rendered text: 2.7 KB). */

#define CR_CATALOG_CACHE_SLOTS 1024
#define CR_CATALOG_GEN_KEY "cr:seatgen:%lld"
#define CR_CATALOG_GEN_LEN 48
#define CR_CATALOG_TRUST_MS 1000
#define CR_CATALOG_HOLD_RELOAD_MS 100

struct cr_catalog_cseat {
    long long seat_no;
    long long price;
    long long hold_until; /* ms; meaningful when code is CR_SEAT_HELD */
    int code;             /* enum cr_seat_status as stored: HELD may have run out */
    int has_holder;
    struct cr_uuid holder; /* the holder's UUID when has_holder */
};

struct cr_catalog_cmap {
    long long schedule_id; /* 0: an empty slot */
    long long version;
    long long concert_id;
    long long starts_at;
    char gen[CR_CATALOG_GEN_LEN]; /* Redis generation read before it was last confirmed; "" none */
    long long confirmed_ms;       /* monotonic ms of MariaDB's last confirmation */
    long long loaded_ms;          /* monotonic ms of the last load */
    int nseats;
    struct cr_catalog_cseat *seats; /* malloc'd, nseats entries */
    char *text;            /* malloc'd seat-map JSON of these seats, or NULL */
    size_t text_len;
    long long text_from;   /* the text is right for now in [text_from, text_until): from its */
    long long text_until;  /* rendering to the end of the first hold it shows HELD */
};

static struct cr_catalog_cmap cr_catalog_cache[CR_CATALOG_CACHE_SLOTS];

/* The slot of schedule_id, whatever it holds now. */
static struct cr_catalog_cmap *cr_catalog_slot(long long schedule_id)
{
    return &cr_catalog_cache[(unsigned long long)schedule_id % CR_CATALOG_CACHE_SLOTS];
}

/* A value no other writer or reader ever makes: this process, its own counter and the
 * clock. */
static void cr_catalog_gen_new(char *out)
{
    static unsigned long long counter;
    snprintf(out, CR_CATALOG_GEN_LEN, "%lx.%llx.%llx", (unsigned long)getpid(), ++counter,
             (unsigned long long)cr_time_now_ms());
}

/* Reads schedule_id's generation into gen (CR_CATALOG_GEN_LEN bytes), creating it when
 * missing. On any failure gen is "" (nothing is trusted on it) and the read goes on without. */
static void cr_catalog_gen_read(struct cr_arena *a, long long schedule_id, char *gen)
{
    redisReply *r = NULL;
    char tag[40];
    gen[0] = '\0';
    if (cr_queue_timed())
        return; /* no Redis on a read in the timed mode (issue 14): the version read instead */
    snprintf(tag, sizeof(tag), "seatgen:%lld", schedule_id);
    if (cr_redis_ridden(a, tag, &r) != CR_OK &&
        cr_redis_cmd(a, &r, "GET " CR_CATALOG_GEN_KEY, schedule_id) != CR_OK)
        return;
    if (r->type == REDIS_REPLY_NIL) {
        /* First read since Redis lost it or ever: ours, unless someone was quicker (then
         * GET returns theirs). */
        char mine[CR_CATALOG_GEN_LEN];
        cr_catalog_gen_new(mine);
        if (cr_redis_cmd(a, &r, "SET " CR_CATALOG_GEN_KEY " %s NX GET", schedule_id, mine) !=
            CR_OK)
            return;
        if (r->type == REDIS_REPLY_NIL) {
            memcpy(gen, mine, CR_CATALOG_GEN_LEN);
            return;
        }
    }
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < CR_CATALOG_GEN_LEN) {
        memcpy(gen, r->str, r->len);
        gen[r->len] = '\0';
    }
}

void cr_catalog_seats_prefetch(struct cr_arena *a, long long schedule_id)
{
    char tag[40];
    if (cr_queue_timed())
        return;
    snprintf(tag, sizeof(tag), "seatgen:%lld", schedule_id);
    cr_redis_ride(a, tag, "GET " CR_CATALOG_GEN_KEY, schedule_id);
}

void cr_catalog_touch(struct cr_arena *a, long long schedule_id)
{
    redisReply *r = NULL;
    char gen[CR_CATALOG_GEN_LEN];
    if (cr_queue_timed())
        return; /* nobody reads the generations in the timed mode */
    cr_catalog_gen_new(gen);
    if (cr_redis_cmd(a, &r, "SET " CR_CATALOG_GEN_KEY " %s", schedule_id, gen) != CR_OK)
        cr_log_warn("schedule %lld: seat-map generation not renewed; copies may be up to %d ms "
                    "old",
                    schedule_id, CR_CATALOG_TRUST_MS);
}

/* Loads schedule_id's map and version into its slot (replacing what was there), as confirmed
 * under gen (read before this; "" for none). CR_OK, CR_E_NOT_FOUND (no such schedule),
 * CR_E_INTERNAL (out of memory) or a database error. */
static int cr_catalog_load(struct cr_arena *a, long long schedule_id, const char *gen,
                           struct cr_catalog_cmap **out)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(schedule_id)};
    struct cr_catalog_cmap *m = cr_catalog_slot(schedule_id);
    int rc = cr_db_query(a, cr_catalog_sql_seats, p, 1, &rows);
    if (rc != CR_OK)
        return rc;
    int n = rows.nrows;
    long long version = n > 0 ? CR_DB_CELL(&rows, 0, 2)->i : -1;
    if (n == 0) {
        /* A schedule without seats (yet): its copy is never current (version -1, no
         * generation), because the seats of a loader's INSERT could commit between this read
         * and the last. */
        gen = "";
        if ((rc = cr_db_query(a, cr_catalog_sql_schedule, p, 1, &rows)) != CR_OK)
            return rc;
        if (rows.nrows == 0)
            return CR_E_NOT_FOUND;
    }
    struct cr_catalog_cseat *seats = NULL;
    if (n > m->nseats || m->seats == NULL) {
        seats = malloc(sizeof(*seats) * (size_t)(n > 0 ? n : 1));
        if (seats == NULL)
            return CR_E_INTERNAL;
        free(m->seats);
        m->seats = seats;
    }
    free(m->text); /* rendered from the seats replaced below */
    m->text = NULL;
    m->schedule_id = schedule_id;
    m->concert_id = CR_DB_CELL(&rows, 0, 0)->i;
    m->starts_at = CR_DB_CELL(&rows, 0, 1)->i;
    m->version = version;
    snprintf(m->gen, sizeof(m->gen), "%s", gen);
    m->confirmed_ms = m->loaded_ms = cr_time_mono_ms();
    m->nseats = n;
    for (int r = 0; r < n; r++) {
        struct cr_catalog_cseat *s = &m->seats[r];
        const struct cr_db_val *until = CR_DB_CELL(&rows, r, 6);
        const struct cr_db_val *holder = CR_DB_CELL(&rows, r, 7);
        s->seat_no = CR_DB_CELL(&rows, r, 3)->i;
        s->price = CR_DB_CELL(&rows, r, 4)->i;
        s->code = (int)CR_DB_CELL(&rows, r, 5)->i;
        s->hold_until = until->type == CR_DB_TIME ? until->i : 0;
        s->has_holder = holder->type == CR_DB_STR && holder->len == 16;
        if (s->has_holder)
            memcpy(s->holder.b, holder->s, 16);
    }
    *out = m;
    return CR_OK;
}

/* Whether m, a copy of schedule_id, may be served on gen alone (without MariaDB). */
static int cr_catalog_trusted(const struct cr_catalog_cmap *m, long long schedule_id,
                              const char *gen)
{
    return m->schedule_id == schedule_id && gen[0] != '\0' && strcmp(gen, m->gen) == 0 &&
           cr_time_mono_ms() - m->confirmed_ms < CR_CATALOG_TRUST_MS;
}

/* The map of schedule_id as of the committed version: its copy when version (already read by
 * the caller; -1 when not) says it is current, or, when not given, when the Redis generation
 * or else a fresh read of the version says so; otherwise loaded. */
static int cr_catalog_map(struct cr_arena *a, long long schedule_id, long long version,
                          struct cr_catalog_cmap **out)
{
    struct cr_catalog_cmap *m = cr_catalog_slot(schedule_id);
    char gen[CR_CATALOG_GEN_LEN] = "";
    if (version < 0) {
        cr_catalog_gen_read(a, schedule_id, gen);
        if (cr_catalog_trusted(m, schedule_id, gen)) {
            *out = m;
            return CR_OK;
        }
    }
    if (m->schedule_id == schedule_id) {
        if (version < 0) {
            struct cr_db_rows rows;
            struct cr_db_val p[] = {CR_DB_I(schedule_id)};
            int rc = cr_db_query(a, cr_catalog_sql_seat_version, p, 1, &rows);
            if (rc != CR_OK)
                return rc;
            version = rows.nrows > 0 ? CR_DB_CELL(&rows, 0, 0)->i : 0;
            if (version == m->version) {
                /* Confirmed under the generation read before the version. */
                snprintf(m->gen, sizeof(m->gen), "%s", gen);
                m->confirmed_ms = cr_time_mono_ms();
            }
        }
        if (version == m->version) {
            *out = m;
            return CR_OK;
        }
    }
    return cr_catalog_load(a, schedule_id, gen, out);
}

/* The status a cached seat reads as at now_ms. */
static enum cr_seat_status cr_catalog_visible(const struct cr_catalog_cseat *s, long long now_ms)
{
    if (s->code == CR_SEAT_SOLD)
        return CR_SEAT_SOLD;
    if (s->code == CR_SEAT_HELD && s->hold_until > now_ms)
        return CR_SEAT_HELD;
    return CR_SEAT_AVAILABLE;
}

void cr_catalog_cache_clear(void)
{
    for (int i = 0; i < CR_CATALOG_CACHE_SLOTS; i++) {
        free(cr_catalog_cache[i].seats);
        free(cr_catalog_cache[i].text);
        memset(&cr_catalog_cache[i], 0, sizeof(cr_catalog_cache[i]));
    }
}

int cr_catalog_schedules(struct cr_arena *a, long long concert_id, long long now_ms,
                         int available_only, struct cr_schedule **out, int *n)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(concert_id), CR_DB_T(now_ms)};
    int rc = cr_db_query(a, cr_catalog_sql_schedules, p, 2, &rows);
    if (rc != CR_OK)
        return rc;
    *out = NULL;
    *n = 0;
    if (rows.nrows == 0) {
        struct cr_db_rows c;
        if ((rc = cr_db_query(a, cr_catalog_sql_concert, &p[0], 1, &c)) != CR_OK)
            return rc;
        return c.nrows == 0 ? CR_E_NOT_FOUND : CR_OK;
    }
    *out = cr_arena_calloc(a, sizeof(**out) * (size_t)rows.nrows);
    for (int r = 0; r < rows.nrows; r++) {
        struct cr_schedule *s = &(*out)[*n];
        struct cr_catalog_cmap *m;
        s->id = CR_DB_CELL(&rows, r, 0)->i;
        s->starts_at = CR_DB_CELL(&rows, r, 1)->i;
        s->total_seats = CR_DB_CELL(&rows, r, 2)->i;
        s->sales_open_at = CR_DB_CELL(&rows, r, 4)->i;
        rc = cr_catalog_map(a, s->id, CR_DB_CELL(&rows, r, 3)->i, &m);
        if (rc == CR_E_NOT_FOUND)
            continue; /* deleted since the list was read */
        if (rc != CR_OK)
            return rc;
        s->available_seats = 0;
        for (int i = 0; i < m->nseats; i++)
            s->available_seats += cr_catalog_visible(&m->seats[i], now_ms) == CR_SEAT_AVAILABLE;
        if (!available_only || s->available_seats > 0)
            (*n)++;
    }
    return CR_OK;
}

int cr_catalog_seats(struct cr_arena *a, long long schedule_id, long long now_ms,
                     struct cr_seat_map *out)
{
    struct cr_catalog_cmap *m;
    int rc = cr_catalog_map(a, schedule_id, -1, &m);
    if (rc != CR_OK)
        return rc;
    out->schedule_id = schedule_id;
    out->concert_id = m->concert_id;
    out->starts_at = m->starts_at;
    out->nseats = m->nseats;
    out->seats = NULL;
    if (m->nseats > 0)
        out->seats = cr_arena_alloc(a, sizeof(*out->seats) * (size_t)m->nseats);
    for (int i = 0; i < m->nseats; i++) {
        out->seats[i].seat_no = m->seats[i].seat_no;
        out->seats[i].price = m->seats[i].price;
        out->seats[i].status = cr_catalog_visible(&m->seats[i], now_ms);
    }
    return CR_OK;
}

int cr_catalog_seat_taken(struct cr_arena *a, long long schedule_id, long long seat_no,
                          const struct cr_uuid *user, long long now_ms)
{
    struct cr_catalog_cmap *m = cr_catalog_slot(schedule_id);
    char gen[CR_CATALOG_GEN_LEN];
    if (cr_queue_timed())
        return 0; /* no generations: a check would cost what the hold's own pre-check does */
    cr_catalog_gen_read(a, schedule_id, gen);
    if (!cr_catalog_trusted(m, schedule_id, gen)) {
        /* Not current as far as the generation says. Loading the 50 seats is worth it when
         * many holds will be refused from the copy (a rush after a sell-out), not on every
         * hold of a map that changes all the time (a sale): at most one load per
         * CR_CATALOG_HOLD_RELOAD_MS per worker and schedule, and meanwhile "maybe free". */
        if (m->schedule_id == schedule_id &&
            cr_time_mono_ms() - m->loaded_ms < CR_CATALOG_HOLD_RELOAD_MS)
            return 0;
        if (cr_catalog_load(a, schedule_id, gen, &m) != CR_OK)
            return 0; /* no such schedule, or the database failed: the transaction will say */
    }
    const struct cr_catalog_cseat *s = NULL;
    if (seat_no >= 1 && seat_no <= m->nseats && m->seats[seat_no - 1].seat_no == seat_no)
        s = &m->seats[seat_no - 1];
    for (int i = 0; s == NULL && i < m->nseats; i++)
        if (m->seats[i].seat_no == seat_no)
            s = &m->seats[i];
    if (s == NULL)
        return 0; /* a 404 (or a seat past total_seats) is the transaction's to say */
    switch (cr_catalog_visible(s, now_ms)) {
    case CR_SEAT_SOLD:
        return 1;
    case CR_SEAT_HELD:
        return !s->has_holder || memcmp(s->holder.b, user->b, 16) != 0;
    case CR_SEAT_AVAILABLE:
    default:
        return 0;
    }
}

/* Appends the decimal digits of v at p; returns the new end. */
static char *cr_catalog_put_int(char *p, long long v)
{
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    if (v < 0)
        *p++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *cr_catalog_put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* Renders m as seen at now_ms into m->text (exactly what json-c would print for the same fields
 * in the same order: every string is a status name or a timestamp, none needs escaping), with
 * the time until which it stays right: the earliest end of a hold live at now_ms. CR_OK or
 * CR_E_INTERNAL (out of memory). */
static int cr_catalog_render(struct cr_catalog_cmap *m, long long now_ms)
{
    char ts[CR_TIME_LEN];
    /* Per seat at most 83 bytes: {"seatNo":<20>,"price":<20>,"status":"AVAILABLE"}, */
    char *buf = malloc(160 + (size_t)m->nseats * 96), *p = buf;
    long long until = INT64_MAX;
    if (buf == NULL)
        return CR_E_INTERNAL;
    p = cr_catalog_put(p, "{\"scheduleId\":");
    p = cr_catalog_put_int(p, m->schedule_id);
    p = cr_catalog_put(p, ",\"concertId\":");
    p = cr_catalog_put_int(p, m->concert_id);
    p = cr_catalog_put(p, ",\"startsAt\":\"");
    p = cr_catalog_put(p, cr_time_format(m->starts_at, ts));
    p = cr_catalog_put(p, "\",\"seats\":[");
    for (int i = 0; i < m->nseats; i++) {
        const struct cr_catalog_cseat *s = &m->seats[i];
        enum cr_seat_status st = cr_catalog_visible(s, now_ms);
        if (st == CR_SEAT_HELD && s->hold_until < until)
            until = s->hold_until;
        p = cr_catalog_put(p, i == 0 ? "{\"seatNo\":" : ",{\"seatNo\":");
        p = cr_catalog_put_int(p, s->seat_no);
        p = cr_catalog_put(p, ",\"price\":");
        p = cr_catalog_put_int(p, s->price);
        p = cr_catalog_put(p, ",\"status\":\"");
        p = cr_catalog_put(p, cr_catalog_seat_status_name(st));
        p = cr_catalog_put(p, "\"}");
    }
    p = cr_catalog_put(p, "]}");
    *p = '\0';
    free(m->text);
    m->text = buf;
    m->text_len = (size_t)(p - buf);
    m->text_from = now_ms;
    m->text_until = until;
    return CR_OK;
}

int cr_catalog_seats_text(struct cr_arena *a, long long schedule_id, long long now_ms,
                          const char **text)
{
    struct cr_catalog_cmap *m;
    int rc = cr_catalog_map(a, schedule_id, -1, &m);
    if (rc != CR_OK)
        return rc;
    /* Between two loads a status changes only when a live hold runs out: the text is
     * rendered again when the copy was reloaded (the text went with it), once the first hold
     * it shows HELD has ended, or when the clock reads earlier than its rendering. */
    if (m->text == NULL || now_ms >= m->text_until || now_ms < m->text_from) {
        if ((rc = cr_catalog_render(m, now_ms)) != CR_OK)
            return rc;
    }
    char *copy = cr_arena_alloc(a, m->text_len + 1);
    memcpy(copy, m->text, m->text_len + 1);
    *text = copy;
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
