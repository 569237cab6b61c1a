/* cr_admin.c: concert-admin's logic: strict parsing of an operator's input, and the catalogue
 * writes, each one transaction so that a refused or failed command leaves nothing behind. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cr_admin.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_text.h"
#include "cr_time.h"

/* --- messages -------------------------------------------------------------------------- */

/* Writes the message into err and returns CR_E_INVALID (or code). */
static int cr_admin_fail(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cr_admin_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The operator's input, fit to be quoted in a message: itself when it is short clean text. */
static const char *cr_admin_quote(const char *s)
{
    size_t n = strlen(s);
    return n <= 64 && cr_text_clean(s, n) ? s : "(not shown)";
}

/* --- parsing --------------------------------------------------------------------------- */

static int cr_admin_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void cr_admin_skip_blanks(const char **p, const char *end)
{
    while (*p < end && cr_admin_blank(**p))
        (*p)++;
}

/* Reads 1 to 18 decimal digits at *p (before end) into *v and moves *p past them; 0 when
 * there are none, or more (no value of ours needs them, and 18 cannot overflow). */
static int cr_admin_num(const char **p, const char *end, long long *v)
{
    const char *s = *p;
    long long x = 0;
    while (*p < end && **p >= '0' && **p <= '9' && *p - s < 18) {
        x = x * 10 + (**p - '0');
        (*p)++;
    }
    if (*p == s || (*p < end && **p >= '0' && **p <= '9'))
        return 0;
    *v = x;
    return 1;
}

/* Exactly n digits at *p (before end), into *v. */
static int cr_admin_fixed(const char **p, const char *end, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return 0;
        x = x * 10 + (**p - '0');
    }
    *v = x;
    return 1;
}

/* "now", "now+N<unit>", "now-N<unit>". */
static int cr_admin_parse_now(const char *s, long long now_ms, long long *ms)
{
    static const struct {
        const char *name;
        long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    const char *p = s + 3, *end = s + strlen(s);
    long long n;
    if (p == end) {
        *ms = now_ms;
        return 1;
    }
    int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
    if (sign == 0)
        return 0;
    p++;
    if (!cr_admin_num(&p, end, &n) || n > 100000000000LL) /* a few years in ms at most */
        return 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(p, units[i].name) == 0 && n <= 3650LL * 86400000 / units[i].ms) {
            *ms = now_ms + sign * n * units[i].ms;
            return 1;
        }
    return 0;
}

/* RFC 3339 with a required zone, seconds and a fraction of 1 to 3 digits optional. */
static int cr_admin_parse_rfc3339(const char *s, long long *ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s, *end = s + strlen(s);
    int y, mo, d, h, mi, sec = 0, frac = 0, oh = 0, om = 0, sign = 0;
    if (!cr_admin_fixed(&p, end, 4, &y) || p >= end || *p++ != '-' ||
        !cr_admin_fixed(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
        !cr_admin_fixed(&p, end, 2, &d) || p >= end || *p++ != 'T' ||
        !cr_admin_fixed(&p, end, 2, &h) || p >= end || *p++ != ':' ||
        !cr_admin_fixed(&p, end, 2, &mi))
        return 0;
    if (p < end && *p == ':') {
        p++;
        if (!cr_admin_fixed(&p, end, 2, &sec))
            return 0;
        if (p < end && *p == '.') {
            int nd = 0;
            p++;
            while (p < end && *p >= '0' && *p <= '9' && nd < 3) {
                frac = frac * 10 + (*p++ - '0');
                nd++;
            }
            if (nd == 0 || (p < end && *p >= '0' && *p <= '9'))
                return 0;
            for (; nd < 3; nd++)
                frac *= 10;
        }
    }
    if (p < end && *p == 'Z') {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        sign = *p++ == '+' ? 1 : -1;
        if (!cr_admin_fixed(&p, end, 2, &oh) || p >= end || *p++ != ':' ||
            !cr_admin_fixed(&p, end, 2, &om) || oh > 23 || om > 59)
            return 0;
    } else {
        return 0;
    }
    if (p != end)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || sec > 59)
        return 0;
    *ms = cr_time_civil_ms(y, mo, d, h, mi, sec, frac) - sign * (oh * 60 + om) * 60000LL;
    return 1;
}

int cr_admin_parse_time(const char *s, long long now_ms, long long *ms, char *err, size_t errlen)
{
    int ok = strncmp(s, "now", 3) == 0 ? cr_admin_parse_now(s, now_ms, ms)
                                        : cr_admin_parse_rfc3339(s, ms);
    if (!ok)
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "time '%s' is not RFC 3339 with a zone (e.g. 2026-12-24T19:00:00Z "
                             "or 2026-12-25T04:00+09:00) nor now[+-N(ms|s|m|h|d)]",
                             cr_admin_quote(s));
    return CR_OK;
}

/* The whole of s as one number: digits only. */
static int cr_admin_whole_num(const char *s, long long *v)
{
    const char *p = s, *end = s + strlen(s);
    return cr_admin_num(&p, end, v) && p == end;
}

int cr_admin_parse_id(const char *s, long long *id, char *err, size_t errlen)
{
    if (!cr_admin_whole_num(s, id) || *id < 1)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "id '%s' is not a positive integer",
                             cr_admin_quote(s));
    return CR_OK;
}

int cr_admin_parse_seats(const char *s, int *n, char *err, size_t errlen)
{
    long long v;
    if (!cr_admin_whole_num(s, &v) || v < 1 || v > CR_ADMIN_SEATS_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "seats '%s': a schedule has from 1 to %d seats", cr_admin_quote(s),
                             CR_ADMIN_SEATS_MAX);
    *n = (int)v;
    return CR_OK;
}

/* A price read at *p (before end): 1 to CR_ADMIN_PRICE_MAX, else an error naming it. */
static int cr_admin_price_at(const char **p, const char *end, long long *price, char *err,
                             size_t errlen)
{
    const char *s = *p;
    if (*p < end && **p == '-')
        return cr_admin_fail(CR_E_INVALID, err, errlen, "a price must be above 0");
    if (!cr_admin_num(p, end, price))
        return cr_admin_fail(CR_E_INVALID, err, errlen, "a price must be a whole number of won");
    if (*price < 1 || *price > CR_ADMIN_PRICE_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "price %.*s: a price is from 1 to %lld won", (int)(*p - s), s,
                             CR_ADMIN_PRICE_MAX);
    return CR_OK;
}

int cr_admin_parse_price(const char *s, long long *price, char *err, size_t errlen)
{
    const char *p = s, *end = s + strlen(s);
    int rc = cr_admin_price_at(&p, end, price, err, errlen);
    if (rc == CR_OK && p != end)
        rc = cr_admin_fail(CR_E_INVALID, err, errlen, "price '%s' is not a whole number of won",
                           cr_admin_quote(s));
    return rc;
}

/* Prices seats first..last (1-based) at price, refusing a seat out of range or priced twice. */
static int cr_admin_set_range(long long first, long long last, long long price, int nseats,
                              long long *prices, char *err, size_t errlen)
{
    if (first < 1)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "seat %lld is outside 1..%d", first,
                             nseats);
    if (last < first)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "seat range %lld-%lld is empty", first,
                             last);
    if (last > nseats)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "seat %lld is outside 1..%d", last,
                             nseats);
    for (long long s = first; s <= last; s++)
        if (prices[s - 1] != 0)
            return cr_admin_fail(CR_E_INVALID, err, errlen, "seat %lld is priced twice", s);
    for (long long s = first; s <= last; s++)
        prices[s - 1] = price;
    return CR_OK;
}

/* Every seat has a price (after the ranges or lines that set them). */
static int cr_admin_all_priced(int nseats, const long long *prices, char *err, size_t errlen)
{
    for (int i = 0; i < nseats; i++)
        if (prices[i] == 0)
            return cr_admin_fail(CR_E_INVALID, err, errlen, "seat %d has no price", i + 1);
    return CR_OK;
}

/* One item "FIRST-LAST:PRICE" or "SEAT:PRICE" at *p: CR_OK, CR_E_INVALID with a message for
 * a price or a range that is wrong, or 1 when the item does not have that shape. */
static int cr_admin_price_item(const char **p, const char *end, int nseats, long long *prices,
                               char *err, size_t errlen)
{
    long long first, last, price;
    int rc;
    cr_admin_skip_blanks(p, end);
    if (!cr_admin_num(p, end, &first))
        return 1;
    last = first;
    cr_admin_skip_blanks(p, end);
    if (*p < end && **p == '-') {
        (*p)++;
        cr_admin_skip_blanks(p, end);
        if (!cr_admin_num(p, end, &last))
            return 1;
        cr_admin_skip_blanks(p, end);
    }
    if (*p >= end || *(*p)++ != ':')
        return 1;
    cr_admin_skip_blanks(p, end);
    if ((rc = cr_admin_price_at(p, end, &price, err, errlen)) != CR_OK)
        return rc;
    cr_admin_skip_blanks(p, end);
    return cr_admin_set_range(first, last, price, nseats, prices, err, errlen);
}

int cr_admin_parse_prices(const char *spec, int nseats, long long *prices, char *err,
                          size_t errlen)
{
    const char *p = spec, *end = spec + strlen(spec);
    if (nseats < 1 || nseats > CR_ADMIN_SEATS_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "a schedule has from 1 to %d seats",
                             CR_ADMIN_SEATS_MAX);
    memset(prices, 0, sizeof(*prices) * (size_t)nseats);
    for (;;) {
        int rc = cr_admin_price_item(&p, end, nseats, prices, err, errlen);
        if (rc == 1 || (rc == CR_OK && p != end && *p != ','))
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "prices '%s': expected FIRST-LAST:PRICE or SEAT:PRICE items "
                                 "separated by commas, e.g. 1-10:5000,11-50:3000",
                                 cr_admin_quote(spec));
        if (rc != CR_OK)
            return rc;
        if (p == end)
            break;
        p++; /* the comma */
    }
    return cr_admin_all_priced(nseats, prices, err, errlen);
}

/* Case-insensitive: the line (b..e) is the header "seatNo,price", blanks allowed. */
static int cr_admin_csv_header(const char *b, const char *e)
{
    static const char *const words[] = {"seatno", "price"};
    for (int w = 0; w < 2; w++) {
        size_t n = strlen(words[w]);
        cr_admin_skip_blanks(&b, e);
        if ((size_t)(e - b) < n || strncasecmp(b, words[w], n) != 0)
            return 0;
        b += n;
        cr_admin_skip_blanks(&b, e);
        if (w == 0 && (b >= e || *b++ != ','))
            return 0;
    }
    return b == e;
}

int cr_admin_parse_prices_csv(const char *text, size_t len, int nseats, long long *prices,
                              int *line, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0, seen_data = 0, rc;
    *line = 0;
    if (nseats < 1 || nseats > CR_ADMIN_SEATS_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "a schedule has from 1 to %d seats",
                             CR_ADMIN_SEATS_MAX);
    memset(prices, 0, sizeof(*prices) * (size_t)nseats);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *b = p, *e = nl != NULL ? nl : end;
        p = nl != NULL ? nl + 1 : end;
        lineno++;
        if (e > b && e[-1] == '\r')
            e--;
        cr_admin_skip_blanks(&b, e);
        while (e > b && cr_admin_blank(e[-1]))
            e--;
        if (b == e)
            continue; /* a blank line */
        if (!seen_data++ && cr_admin_csv_header(b, e))
            continue;
        long long seat, price;
        *line = lineno;
        if (!cr_admin_num(&b, e, &seat))
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "line %d: expected seatNo,price (two whole numbers)", lineno);
        cr_admin_skip_blanks(&b, e);
        if (b >= e || *b++ != ',')
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "line %d: expected seatNo,price (two whole numbers)", lineno);
        cr_admin_skip_blanks(&b, e);
        if ((rc = cr_admin_price_at(&b, e, &price, err, errlen)) != CR_OK) {
            char inner[160];
            snprintf(inner, sizeof(inner), "%s", err);
            return cr_admin_fail(rc, err, errlen, "line %d: %s", lineno, inner);
        }
        if (b != e)
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "line %d: expected seatNo,price (two whole numbers)", lineno);
        if (seat < 1 || seat > nseats)
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "line %d: seat %lld is outside 1..%d", lineno, seat, nseats);
        if (prices[seat - 1] != 0)
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "line %d: seat %lld is priced twice", lineno, seat);
        prices[seat - 1] = price;
    }
    *line = 0;
    return cr_admin_all_priced(nseats, prices, err, errlen);
}

int cr_admin_check_text(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s), chars = 0;
    int blank = 1;
    if (!cr_text_clean(s, n))
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "%s must be UTF-8 text without control characters", what);
    for (size_t i = 0; i < n; i++) {
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        blank &= s[i] == ' ';
    }
    if (blank)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "%s must not be empty", what);
    if (chars > CR_ADMIN_TEXT_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "%s is over %d characters", what,
                             CR_ADMIN_TEXT_MAX);
    return CR_OK;
}

int cr_admin_check_schedule(long long starts_at, long long sales_open_at, long long now_ms,
                            char *err, size_t errlen)
{
    char a[CR_TIME_LEN], b[CR_TIME_LEN];
    if (starts_at <= now_ms)
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "the schedule would start in the past (%s; it is now %s)",
                             cr_time_format(starts_at, a), cr_time_format(now_ms, b));
    if (sales_open_at > starts_at)
        return cr_admin_fail(CR_E_INVALID, err, errlen,
                             "sales would open (%s) after the start (%s)",
                             cr_time_format(sales_open_at, a), cr_time_format(starts_at, b));
    return CR_OK;
}

/* --- the database ---------------------------------------------------------------------- */

static const char cr_admin_sql_concert_add[] = "INSERT INTO concerts (title, venue) VALUES (?, ?)";

/* Parameter: concert id. */
static const char cr_admin_sql_concert[] = "SELECT id FROM concerts WHERE id = ?";

/* Parameters: concert id, start, sales opening, seats. */
static const char cr_admin_sql_schedule_add[] =
    "INSERT INTO schedules (concert_id, starts_at, sales_open_at, total_seats)"
    " VALUES (?, ?, ?, ?)";

/* One run of consecutive seats at one price. Parameters: schedule id, price, first, last. */
static const char cr_admin_sql_seats_add[] =
    "INSERT INTO seats (schedule_id, seat_no, price)"
    " SELECT ?, seq, ? FROM seq_1_to_10000 WHERE seq BETWEEN ? AND ?";

/* The schedule whose opening moves, locked until COMMIT. Parameter: schedule id. */
static const char cr_admin_sql_schedule_lock[] =
    "SELECT starts_at FROM schedules WHERE id = ? FOR UPDATE";

/* Parameters: the new opening, schedule id. */
static const char cr_admin_sql_sales_open[] = "UPDATE schedules SET sales_open_at = ? WHERE id = ?";

/* Every concert with its schedules and their seats counted as of now (a hold is live while its
 * expiry is after now, as everywhere). Parameters: now, now. */
static const char cr_admin_sql_list[] =
    "SELECT c.id, c.title, c.venue, s.id, s.starts_at, s.sales_open_at, s.total_seats,"
    " COALESCE(SUM(t.status = 'SOLD'), 0),"
    " COALESCE(SUM(t.status = 'HELD' AND t.hold_expires_at > ?), 0),"
    " COALESCE(SUM(t.status = 'AVAILABLE' OR (t.status = 'HELD' AND t.hold_expires_at <= ?)), 0),"
    " COALESCE(SUM(CASE WHEN t.status = 'SOLD' THEN t.price ELSE 0 END), 0)"
    " FROM concerts AS c"
    " LEFT JOIN schedules AS s ON s.concert_id = c.id"
    " LEFT JOIN seats AS t ON t.schedule_id = s.id"
    " GROUP BY c.id, s.id"
    " ORDER BY c.id, s.starts_at, s.id";

struct cr_admin_concert_ctx {
    const char *title, *venue;
    long long *id;
};

static int cr_admin_concert_txn(void *arg)
{
    struct cr_admin_concert_ctx *c = arg;
    struct cr_db_val p[] = {CR_DB_STRZ(c->title), CR_DB_STRZ(c->venue)};
    return cr_db_exec(cr_admin_sql_concert_add, p, 2, NULL, c->id);
}

int cr_admin_concert_add(const char *title, const char *venue, long long *id, char *err,
                         size_t errlen)
{
    int rc;
    if ((rc = cr_admin_check_text("the title", title, err, errlen)) != CR_OK ||
        (rc = cr_admin_check_text("the venue", venue, err, errlen)) != CR_OK)
        return rc;
    struct cr_admin_concert_ctx c = {title, venue, id};
    return cr_db_txn(cr_admin_concert_txn, &c);
}

struct cr_admin_schedule_ctx {
    struct cr_arena *a;
    long long concert_id, starts_at, sales_open_at;
    int nseats;
    const long long *prices;
    long long *id;
    char *err;
    size_t errlen;
};

/* The schedule row, then its seats one run of equal prices at a time (a single price is one
 * statement; a CSV of all different prices one a seat). */
static int cr_admin_schedule_txn(void *arg)
{
    struct cr_admin_schedule_ctx *c = arg;
    struct cr_db_rows rows;
    int rc;
    struct cr_db_val pc[] = {CR_DB_I(c->concert_id)};
    if ((rc = cr_db_query(c->a, cr_admin_sql_concert, pc, 1, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return cr_admin_fail(CR_E_NOT_FOUND, c->err, c->errlen, "concert %lld not found",
                             c->concert_id);
    struct cr_db_val ps[] = {CR_DB_I(c->concert_id), CR_DB_T(c->starts_at),
                             CR_DB_T(c->sales_open_at), CR_DB_I(c->nseats)};
    if ((rc = cr_db_exec(cr_admin_sql_schedule_add, ps, 4, NULL, c->id)) != CR_OK)
        return rc;
    for (int first = 1; first <= c->nseats;) {
        int last = first;
        while (last < c->nseats && c->prices[last] == c->prices[first - 1])
            last++;
        long long affected = 0;
        struct cr_db_val pt[] = {CR_DB_I(*c->id), CR_DB_I(c->prices[first - 1]), CR_DB_I(first),
                                 CR_DB_I(last)};
        if ((rc = cr_db_exec(cr_admin_sql_seats_add, pt, 4, &affected, NULL)) != CR_OK)
            return rc;
        if (affected != last - first + 1)
            return cr_admin_fail(CR_E_INTERNAL, c->err, c->errlen,
                                 "seats %d-%d: %lld rows written", first, last, affected);
        first = last + 1;
    }
    return CR_OK;
}

int cr_admin_schedule_add(struct cr_arena *a, long long concert_id, long long starts_at,
                          long long sales_open_at, int nseats, const long long *prices,
                          long long now_ms, long long *id, char *err, size_t errlen)
{
    int rc;
    if ((rc = cr_admin_check_schedule(starts_at, sales_open_at, now_ms, err, errlen)) != CR_OK)
        return rc;
    if (nseats < 1 || nseats > CR_ADMIN_SEATS_MAX)
        return cr_admin_fail(CR_E_INVALID, err, errlen, "a schedule has from 1 to %d seats",
                             CR_ADMIN_SEATS_MAX);
    for (int i = 0; i < nseats; i++)
        if (prices[i] < 1 || prices[i] > CR_ADMIN_PRICE_MAX)
            return cr_admin_fail(CR_E_INVALID, err, errlen,
                                 "seat %d: a price is from 1 to %lld won", i + 1,
                                 CR_ADMIN_PRICE_MAX);
    struct cr_admin_schedule_ctx c = {a, concert_id, starts_at, sales_open_at, nseats,
                                      prices, id, err, errlen};
    return cr_db_txn(cr_admin_schedule_txn, &c);
}

struct cr_admin_open_ctx {
    struct cr_arena *a;
    long long schedule_id, at, now;
    long long *starts_at;
    char *err;
    size_t errlen;
};

static int cr_admin_open_txn(void *arg)
{
    struct cr_admin_open_ctx *c = arg;
    struct cr_db_rows rows;
    char a[CR_TIME_LEN], b[CR_TIME_LEN];
    int rc;
    struct cr_db_val pl[] = {CR_DB_I(c->schedule_id)};
    if ((rc = cr_db_query(c->a, cr_admin_sql_schedule_lock, pl, 1, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return cr_admin_fail(CR_E_NOT_FOUND, c->err, c->errlen, "schedule %lld not found",
                             c->schedule_id);
    *c->starts_at = CR_DB_CELL(&rows, 0, 0)->i;
    if (*c->starts_at <= c->now)
        return cr_admin_fail(CR_E_INVALID, c->err, c->errlen,
                             "schedule %lld already started (%s)", c->schedule_id,
                             cr_time_format(*c->starts_at, a));
    if (c->at > *c->starts_at)
        return cr_admin_fail(CR_E_INVALID, c->err, c->errlen,
                             "sales would open (%s) after the start (%s)",
                             cr_time_format(c->at, a), cr_time_format(*c->starts_at, b));
    struct cr_db_val pu[] = {CR_DB_T(c->at), CR_DB_I(c->schedule_id)};
    return cr_db_exec(cr_admin_sql_sales_open, pu, 2, NULL, NULL);
}

int cr_admin_sales_open(struct cr_arena *a, long long schedule_id, long long at,
                        long long now_ms, long long *starts_at, char *err, size_t errlen)
{
    struct cr_admin_open_ctx c = {a, schedule_id, at, now_ms, starts_at, err, errlen};
    return cr_db_txn(cr_admin_open_txn, &c);
}

int cr_admin_list(struct cr_arena *a, long long now_ms, struct cr_admin_row **out, int *n)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_T(now_ms), CR_DB_T(now_ms)};
    int rc = cr_db_query(a, cr_admin_sql_list, p, 2, &rows);
    if (rc != CR_OK)
        return rc;
    *n = rows.nrows;
    *out = rows.nrows > 0 ? cr_arena_calloc(a, sizeof(**out) * (size_t)rows.nrows) : NULL;
    for (int r = 0; r < rows.nrows; r++) {
        struct cr_admin_row *o = &(*out)[r];
        o->concert_id = CR_DB_CELL(&rows, r, 0)->i;
        o->title = CR_DB_CELL(&rows, r, 1)->s;
        o->venue = CR_DB_CELL(&rows, r, 2)->s;
        if (CR_DB_CELL(&rows, r, 3)->type == CR_DB_NULL)
            continue; /* a concert without schedules */
        o->schedule_id = CR_DB_CELL(&rows, r, 3)->i;
        o->starts_at = CR_DB_CELL(&rows, r, 4)->i;
        o->sales_open_at = CR_DB_CELL(&rows, r, 5)->i;
        o->total_seats = CR_DB_CELL(&rows, r, 6)->i;
        o->sold = CR_DB_CELL(&rows, r, 7)->i;
        o->held = CR_DB_CELL(&rows, r, 8)->i;
        o->available = CR_DB_CELL(&rows, r, 9)->i;
        o->revenue = CR_DB_CELL(&rows, r, 10)->i;
    }
    return CR_OK;
}
