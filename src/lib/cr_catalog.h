/* cr_catalog.h: the catalogue reads: concerts, a concert's upcoming schedules, a seat map
 * (from a per-worker copy checked against a per-schedule version). */
#ifndef CR_CATALOG_H
#define CR_CATALOG_H

#include "cr_arena.h"
#include "cr_uuid.h"

/* One concert of the list. Strings live in the arena given to cr_catalog_concerts(). */
struct cr_concert {
    long long id;
    const char *title;
    const char *venue;
};

/* One upcoming schedule with its seat counts as of the now_ms it was read at. */
struct cr_schedule {
    long long id;
    long long starts_at;     /* ms since the epoch, UTC */
    long long sales_open_at; /* ms; holds are allowed from then on */
    long long total_seats;
    long long available_seats; /* AVAILABLE seats plus holds already run out */
};

/* The visible status of a seat: a hold whose time ran out reads as CR_SEAT_AVAILABLE. */
/* The values are the codes cr_catalog_sql_seats computes. */
enum cr_seat_status { CR_SEAT_AVAILABLE = 0, CR_SEAT_HELD = 1, CR_SEAT_SOLD = 2 };

struct cr_seat {
    long long seat_no;
    long long price;
    enum cr_seat_status status;
};

/* A schedule's seat map, ordered by seat number. */
struct cr_seat_map {
    long long schedule_id;
    long long concert_id;
    long long starts_at; /* ms */
    struct cr_seat *seats;
    int nseats;
};

/* The SQL the functions below run, exported so that the EXPLAIN test checks exactly the
 * statements the service issues. The parameters of each are listed at its definition in
 * cr_catalog.c. cr_catalog_sqls holds all of them, NULL-terminated. */
extern const char cr_catalog_sql_concerts[];
extern const char cr_catalog_sql_schedules[];
extern const char cr_catalog_sql_concert[];
extern const char cr_catalog_sql_seats[];
extern const char cr_catalog_sql_schedule[];
extern const char cr_catalog_sql_seat_version[];
extern const char *const cr_catalog_sqls[];

/* Lists every concert, ordered by id (one query: cr_catalog_sql_concerts, no parameters).
 * *out is an arena array of *n entries (NULL when there are none). CR_OK or a database
 * error (CR_E_UNAVAILABLE, CR_E_INTERNAL). */
int cr_catalog_concerts(struct cr_arena *a, struct cr_concert **out, int *n);

/* Lists the schedules of concert_id that start after now_ms, earliest first, with their
 * available seats counted as of now_ms from the seat-map read model (below); available_only
 * keeps only those with at least one. One query (cr_catalog_sql_schedules, which reads each
 * map's version), plus one load (cr_catalog_sql_seats) per map this worker has no current
 * copy of, and cr_catalog_sql_concert only when the first finds nothing, to tell an unknown
 * concert from one without upcoming schedules. *out is an arena array of *n entries.
 * CR_E_NOT_FOUND when the concert does not exist, else as above. */
int cr_catalog_schedules(struct cr_arena *a, long long concert_id, long long now_ms,
                         int available_only, struct cr_schedule **out, int *n);

/* Reads the seat map of schedule_id as of now_ms into *out (seats in the arena), from the
 * worker's copy when the schedule's Redis generation (one GET) or else one primary-key read
 * (cr_catalog_sql_seat_version) says it is of the version last committed, else by loading
 * it (cr_catalog_sql_seats, one statement) into the copy. A hold whose time ran out by now_ms reads AVAILABLE whichever it came from.
 * CR_E_NOT_FOUND when the schedule does not exist, else as above. */
int cr_catalog_seats(struct cr_arena *a, long long schedule_id, long long now_ms,
                     struct cr_seat_map *out);

/* The seat map of schedule_id as of now_ms (as cr_catalog_seats reads it) as the JSON text of
 * API.md 10, in the arena. The worker keeps the text with its copy of the map and renders it
 * again only when the copy is reloaded or a hold it shows HELD has run out by now_ms.
 * Errors as cr_catalog_seats. */
int cr_catalog_seats_text(struct cr_arena *a, long long schedule_id, long long now_ms,
                          const char **text);

/* Whether schedule_id's seat map as of the last committed write shows seat seat_no SOLD or
 * held by a live hold of someone other than user at now_ms: then a hold of it can be refused
 * (409) without a transaction. Decided from this worker's copy of the map when its Redis
 * generation says it is current (one Redis GET), else from a fresh load of it, at most one
 * load per 100 ms per worker and schedule. 0 means "maybe free": free, held by user, no such
 * seat or schedule, no current copy, a failure, or the timed queue mode (no generations);
 * the hold transaction decides those. */
int cr_catalog_seat_taken(struct cr_arena *a, long long schedule_id, long long seat_no,
                          const struct cr_uuid *user, long long now_ms);

/* Sends the read of schedule_id's Redis generation with the request's next Redis command (the
 * token gate's), so that cr_catalog_seats finds it without a round trip of its own
 * (cr_redis_ride). Nothing happens when no command follows (the timed mode's gate). */
void cr_catalog_seats_prefetch(struct cr_arena *a, long long schedule_id);

/* Gives schedule_id's seat map a new Redis generation, so that no worker serves its copy
 * without asking MariaDB again. Every writer of seats in the library calls it after its
 * COMMIT and before it answers; a failure is logged (copies then live at most 1 s longer). */
void cr_catalog_touch(struct cr_arena *a, long long schedule_id);

/* Forgets every copied map (the next read of each loads it). For tests and shutdown. */
void cr_catalog_cache_clear(void);

/* The contract's name of a seat status: "AVAILABLE", "HELD" or "SOLD" (a static string). */
const char *cr_catalog_seat_status_name(enum cr_seat_status s);

#endif
