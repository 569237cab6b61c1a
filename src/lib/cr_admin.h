/* cr_admin.h: what concert-admin does: parsing an operator's input (times, seat counts, prices
 * by range or from a CSV) and the catalogue writes (a concert, a schedule with its seats, a
 * sales opening), each one transaction, plus the sales list. */
#ifndef CR_ADMIN_H
#define CR_ADMIN_H

#include <stddef.h>

#include "cr_arena.h"

#define CR_ADMIN_SEATS_MAX 10000          /* seats of one schedule: 1 to this */
#define CR_ADMIN_PRICE_MAX 1000000000LL   /* a price: 1 to this (BALANCE_MAX's default) */
#define CR_ADMIN_TEXT_MAX 200             /* characters of a title or venue (the columns') */
#define CR_ADMIN_CSV_MAX (4 * 1024 * 1024) /* bytes of a prices CSV */

/* --- parsing (pure: no database, no clock) ---------------------------------------------
 * Each returns CR_OK or CR_E_INVALID with a message for the operator in err (errlen bytes;
 * the input is quoted only when it is clean text). */

/* A time: "now", "now+N<unit>" or "now-N<unit>" (unit ms, s, m, h or d; relative to now_ms),
 * or RFC 3339 "YYYY-MM-DDTHH:MM[:SS[.f{1,3}]]" with "Z" or an offset "+HH:MM"/"-HH:MM"
 * (a zone is required: "19:00" alone would be ambiguous). *ms: ms since the epoch, UTC. */
int cr_admin_parse_time(const char *s, long long now_ms, long long *ms, char *err, size_t errlen);

/* A positive id (concert or schedule): decimal digits only, 1 to 2^63-1. */
int cr_admin_parse_id(const char *s, long long *id, char *err, size_t errlen);

/* A seat count: 1 to CR_ADMIN_SEATS_MAX. */
int cr_admin_parse_seats(const char *s, int *n, char *err, size_t errlen);

/* A price: decimal digits only, 1 to CR_ADMIN_PRICE_MAX ("0" and "-5" are refused). */
int cr_admin_parse_price(const char *s, long long *price, char *err, size_t errlen);

/* Prices by seat range, "1-10:5000,11-50:3000" (a single seat: "7:9000"), into prices[0..nseats)
 * (prices[i] is seat i+1's). Every seat 1..nseats must be priced exactly once: a range past
 * the last seat, an overlap or a seat left without a price is an error. */
int cr_admin_parse_prices(const char *spec, int nseats, long long *prices, char *err,
                          size_t errlen);

/* Prices from CSV text (len bytes) of "seatNo,price" lines, into prices[0..nseats). An optional
 * first line "seatNo,price" (any case) is a header; blank lines, CRLF and blanks around a
 * field are allowed. A line that does not parse, a seat outside 1..nseats, a seat priced
 * twice or a price out of range is an error naming its line number in *line (1-based); a
 * seat left without a price is an error with *line 0. */
int cr_admin_parse_prices_csv(const char *text, size_t len, int nseats, long long *prices,
                              int *line, char *err, size_t errlen);

/* A title or venue: clean UTF-8 text (cr_text_clean), not blank, at most CR_ADMIN_TEXT_MAX
 * characters. what names the field in the message. */
int cr_admin_check_text(const char *what, const char *s, char *err, size_t errlen);

/* A schedule's times as of now_ms: it starts in the future and its sales open no later than
 * it starts (they may open in the past: on sale at once). */
int cr_admin_check_schedule(long long starts_at, long long sales_open_at, long long now_ms,
                            char *err, size_t errlen);

/* --- the database (each call one transaction: all or nothing) --------------------------
 * Each returns CR_OK; CR_E_INVALID or CR_E_NOT_FOUND with a message in err; or a database
 * error (CR_E_UNAVAILABLE, CR_E_UNKNOWN, CR_E_INTERNAL), nothing written but for
 * CR_E_UNKNOWN (the connection was lost during COMMIT). */

/* Adds a concert; *id is its concertId. */
int cr_admin_concert_add(const char *title, const char *venue, long long *id, char *err,
                         size_t errlen);

/* Adds a schedule of concert_id with nseats seats priced prices[0..nseats), checked as above
 * as of now_ms; *id is its scheduleId. */
int cr_admin_schedule_add(struct cr_arena *a, long long concert_id, long long starts_at,
                          long long sales_open_at, int nseats, const long long *prices,
                          long long now_ms, long long *id, char *err, size_t errlen);

/* Moves the sales opening of schedule_id to at, which must be no later than its start; a
 * schedule that already started (as of now_ms) is refused. *starts_at is its start. */
int cr_admin_sales_open(struct cr_arena *a, long long schedule_id, long long at,
                        long long now_ms, long long *starts_at, char *err, size_t errlen);

/* One line of the sales list: a concert, and one of its schedules (schedule_id 0 for a
 * concert without any). Seats as of now_ms: held counts live holds only; a hold that ran out
 * is available. revenue is the sum of the prices of the seats sold (refunded seats are no
 * longer sold). Strings live in the arena. */
struct cr_admin_row {
    long long concert_id;
    const char *title, *venue;
    long long schedule_id, starts_at, sales_open_at, total_seats;
    long long sold, held, available, revenue;
};

/* Every concert and every schedule (past ones too), by concert id, then start; one query.
 * *rows is an arena array of *n. */
int cr_admin_list(struct cr_arena *a, long long now_ms, struct cr_admin_row **rows, int *n);

#endif
