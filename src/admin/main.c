/* main.c: concert-admin, the operator's command line: concerts, schedules with their seats and
 * prices, sales openings, and the sales list. Parses the command line and prints; the checks
 * and the writes (one transaction a command) are cr_admin's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_admin.h"
#include "cr_arena.h"
#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_time.h"

/* Exit statuses: what a script needs to tell apart. */
enum { ADM_OK = 0, ADM_REFUSED = 1, ADM_USAGE = 2, ADM_DB = 3 };

static const char adm_usage[] =
    "usage: concert-admin [--config FILE] [--json] COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  concert add     --title T --venue V\n"
    "  schedule add    --concert ID --starts-at TIME --sales-open-at TIME --seats N\n"
    "                  (--price P | --prices 1-10:5000,11-50:3000 | --prices-csv FILE)\n"
    "  list            concerts and schedules with seats sold, held, available, revenue\n"
    "  sales-open      --schedule ID --at TIME\n"
    "\n"
    "TIME is RFC 3339 with a zone (2026-12-24T19:00:00Z, 2026-12-25T04:00+09:00) or\n"
    "now[+-N(ms|s|m|h|d)], e.g. now+5m. --json prints one JSON object for scripts (errors too).\n"
    "The database is the one of the service's config: --config FILE, else $CONCERT_CONFIG.\n"
    "Each command is one transaction: a refused command writes nothing.\n"
    "Exit status: 0 done, 1 refused (bad input, not found), 2 usage, 3 config or database.\n"
    "'concert-admin COMMAND --help' describes a command.\n";

static const char adm_help_concert[] =
    "usage: concert-admin concert add --title T --venue V [--json]\n"
    "Adds a concert and prints its id. Title and venue: UTF-8 text, 1 to 200 characters.\n";

static const char adm_help_schedule[] =
    "usage: concert-admin schedule add --concert ID --starts-at TIME --sales-open-at TIME\n"
    "         --seats N (--price P | --prices RANGES | --prices-csv FILE) [--json]\n"
    "Adds a schedule of concert ID with seats 1..N (N from 1 to 10000) and prints its id.\n"
    "It must start in the future; its sales may open at once (now) but not after the start.\n"
    "Prices are whole won, 1 to 1000000000, and every seat gets exactly one:\n"
    "  --price 50000                    every seat\n"
    "  --prices 1-10:150000,11-50:77000 by seat range (a single seat: 7:90000)\n"
    "  --prices-csv FILE                lines seatNo,price (an optional header line\n"
    "                                   'seatNo,price'; FILE - reads standard input)\n";

static const char adm_help_list[] =
    "usage: concert-admin list [--json]\n"
    "Every concert and its schedules (past ones too) with seats sold, held (live holds),\n"
    "available (free or a hold that ran out) and the revenue (the prices of the seats sold).\n";

static const char adm_help_open[] =
    "usage: concert-admin sales-open --schedule ID --at TIME [--json]\n"
    "Moves the sales opening of a schedule that has not started yet; --at now opens it at\n"
    "once. A hold before the opening is refused (409 SALES_NOT_OPEN); holds already made stay.\n";

/* --- options --------------------------------------------------------------------------- */

struct adm_opt {
    const char *name; /* without the leading "--" */
    int has_arg;
    const char *val;
    int seen;
};

struct adm {
    int json;
    const char *config;
    char err[512];
    int line; /* a CSV line an error is about, or 0 */
};

/* Parses argv[i..argc) against opts (plus --json, --config and --help, valid everywhere).
 * Returns -1 after --help (printed), ADM_USAGE with a message in g->err, or ADM_OK. */
static int adm_options(struct adm *g, int argc, char **argv, int i, struct adm_opt *opts,
                       int nopts, const char *help)
{
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(g->err, sizeof(g->err), "unexpected argument '%.40s'", a);
            return ADM_USAGE;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
        if (n == 4 && strncmp(a, "json", 4) == 0 && eq == NULL) {
            g->json = 1;
            continue;
        }
        if (n == 4 && strncmp(a, "help", 4) == 0 && eq == NULL) {
            fputs(help, stdout);
            return -1;
        }
        if (n == 6 && strncmp(a, "config", 6) == 0) {
            if (eq == NULL && i + 1 >= argc)
                goto missing;
            g->config = eq != NULL ? eq + 1 : argv[++i];
            continue;
        }
        struct adm_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == n && strncmp(opts[k].name, a, n) == 0)
                o = &opts[k];
        if (o == NULL) {
            snprintf(g->err, sizeof(g->err), "unknown option --%.*s", (int)(n > 40 ? 40 : n), a);
            return ADM_USAGE;
        }
        if (o->seen++) {
            snprintf(g->err, sizeof(g->err), "--%s given twice", o->name);
            return ADM_USAGE;
        }
        if (!o->has_arg) {
            o->val = "";
            continue;
        }
        if (eq == NULL && i + 1 >= argc)
            goto missing;
        o->val = eq != NULL ? eq + 1 : argv[++i];
        continue;
    missing:
        snprintf(g->err, sizeof(g->err), "--%.*s needs a value", (int)(n > 40 ? 40 : n), a);
        return ADM_USAGE;
    }
    return ADM_OK;
}

/* The options that must be there; ADM_USAGE naming the first missing. */
static int adm_required(struct adm *g, const struct adm_opt *opts, int nopts)
{
    for (int k = 0; k < nopts; k++)
        if (opts[k].has_arg == 2 && opts[k].val == NULL) {
            snprintf(g->err, sizeof(g->err), "--%s is required", opts[k].name);
            return ADM_USAGE;
        }
    return ADM_OK;
}

/* --- output ---------------------------------------------------------------------------- */

static void adm_print_json(json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

/* Reports g->err: on stderr always, and as {"error": {"code", "message"[, "line"]}} on stdout
 * with --json; code NULL is the status's usual one. Returns status. */
static int adm_error_code(struct adm *g, int status, const char *code)
{
    static const char *const codes[] = {"OK", "INVALID_INPUT", "USAGE", "DATABASE"};
    fprintf(stderr, "concert-admin: %s\n", g->err);
    if (status == ADM_USAGE && !g->json)
        fputs("(concert-admin --help lists the commands)\n", stderr);
    if (g->json) {
        json_object *e = json_object_new_object(), *o = json_object_new_object();
        cr_json_add_str(e, "code", code != NULL ? code : codes[status]);
        cr_json_add_str(e, "message", g->err);
        if (g->line > 0)
            cr_json_add_int(e, "line", g->line);
        json_object_object_add(o, "error", e);
        adm_print_json(o);
    }
    return status;
}

static int adm_error(struct adm *g, int status)
{
    return adm_error_code(g, status, NULL);
}

/* Maps a library result to an exit status, with a message for a database error. */
static int adm_result(struct adm *g, int rc)
{
    if (rc == CR_OK)
        return ADM_OK;
    if (rc == CR_E_INVALID)
        return adm_error(g, ADM_REFUSED);
    if (rc == CR_E_NOT_FOUND)
        return adm_error_code(g, ADM_REFUSED, "NOT_FOUND");
    if (rc == CR_E_UNKNOWN)
        snprintf(g->err, sizeof(g->err),
                 "the database connection was lost while committing: check with 'list' "
                 "whether the change was made");
    else if (rc == CR_E_UNAVAILABLE)
        snprintf(g->err, sizeof(g->err),
                 "the database is unavailable (nothing was written; is the config right? "
                 "--config FILE or CONCERT_CONFIG)");
    else
        snprintf(g->err, sizeof(g->err), "database error (nothing was written)");
    return adm_error(g, ADM_DB);
}

/* --- commands -------------------------------------------------------------------------- */

/* Each command gets its option table (adm_cmds) filled in, and reads the values by position. */

static int adm_concert_add(struct adm *g, const struct adm_opt *o)
{
    long long id = 0;
    const char *title = o[0].val, *venue = o[1].val;
    int rc = adm_result(g, cr_admin_concert_add(title, venue, &id, g->err, sizeof(g->err)));
    if (rc != ADM_OK)
        return rc;
    if (g->json) {
        json_object *j = json_object_new_object();
        cr_json_add_int(j, "concertId", id);
        cr_json_add_str(j, "title", title);
        cr_json_add_str(j, "venue", venue);
        adm_print_json(j);
    } else {
        printf("concert %lld added\n", id);
    }
    return ADM_OK;
}

/* Reads a whole CSV file (or standard input for "-") into a malloc'd buffer. */
static int adm_read_file(struct adm *g, const char *path, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = CR_ADMIN_CSV_MAX + 1;
    int rc = ADM_OK;
    *buf = NULL;
    if (f == NULL) {
        snprintf(g->err, sizeof(g->err), "cannot read %.200s: %s", path, strerror(errno));
        return ADM_REFUSED;
    }
    if ((*buf = malloc(cap)) == NULL)
        abort();
    *len = fread(*buf, 1, cap, f);
    if (ferror(f)) {
        snprintf(g->err, sizeof(g->err), "cannot read %.200s: %s", path, strerror(errno));
        rc = ADM_REFUSED;
    } else if (*len > CR_ADMIN_CSV_MAX) {
        snprintf(g->err, sizeof(g->err), "%.200s is over %d bytes", path, CR_ADMIN_CSV_MAX);
        rc = ADM_REFUSED;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

static int adm_schedule_add(struct adm *g, const struct adm_opt *o)
{
    long long concert, starts, opens, id = 0, now = cr_time_now_ms(), *prices = NULL;
    int nseats, rc, given = (o[4].val != NULL) + (o[5].val != NULL) + (o[6].val != NULL);
    char *csv = NULL;
    size_t csv_len = 0;
    struct cr_arena *a = NULL;

    if (given != 1) {
        snprintf(g->err, sizeof(g->err), "give exactly one of --price, --prices, --prices-csv");
        rc = adm_error(g, ADM_USAGE);
        goto out;
    }
    if (cr_admin_parse_id(o[0].val, &concert, g->err, sizeof(g->err)) != CR_OK ||
        cr_admin_parse_time(o[1].val, now, &starts, g->err, sizeof(g->err)) != CR_OK ||
        cr_admin_parse_time(o[2].val, now, &opens, g->err, sizeof(g->err)) != CR_OK ||
        cr_admin_parse_seats(o[3].val, &nseats, g->err, sizeof(g->err)) != CR_OK ||
        cr_admin_check_schedule(starts, opens, now, g->err, sizeof(g->err)) != CR_OK) {
        rc = adm_error(g, ADM_REFUSED);
        goto out;
    }
    if ((prices = calloc((size_t)nseats, sizeof(*prices))) == NULL)
        abort();
    if (o[4].val != NULL) {
        long long p;
        rc = cr_admin_parse_price(o[4].val, &p, g->err, sizeof(g->err));
        for (int i = 0; rc == CR_OK && i < nseats; i++)
            prices[i] = p;
    } else if (o[5].val != NULL) {
        rc = cr_admin_parse_prices(o[5].val, nseats, prices, g->err, sizeof(g->err));
    } else {
        if ((rc = adm_read_file(g, o[6].val, &csv, &csv_len)) != ADM_OK) {
            rc = adm_error(g, rc);
            goto out;
        }
        rc = cr_admin_parse_prices_csv(csv, csv_len, nseats, prices, &g->line, g->err,
                                       sizeof(g->err));
    }
    if (rc != CR_OK) {
        rc = adm_error(g, ADM_REFUSED);
        goto out;
    }
    a = cr_arena_new();
    rc = adm_result(g, cr_admin_schedule_add(a, concert, starts, opens, nseats, prices, now, &id,
                                             g->err, sizeof(g->err)));
    if (rc != ADM_OK)
        goto out;
    long long lo = prices[0], hi = prices[0];
    for (int i = 1; i < nseats; i++) {
        lo = prices[i] < lo ? prices[i] : lo;
        hi = prices[i] > hi ? prices[i] : hi;
    }
    if (g->json) {
        json_object *j = json_object_new_object();
        cr_json_add_int(j, "scheduleId", id);
        cr_json_add_int(j, "concertId", concert);
        cr_json_add_time(j, "startsAt", starts);
        cr_json_add_time(j, "salesOpenAt", opens);
        cr_json_add_int(j, "totalSeats", nseats);
        cr_json_add_int(j, "minPrice", lo);
        cr_json_add_int(j, "maxPrice", hi);
        adm_print_json(j);
    } else {
        char t1[CR_TIME_LEN], t2[CR_TIME_LEN];
        printf("schedule %lld added: concert %lld, starts %s, sales open %s, %d seats at %lld "
               "to %lld won\n",
               id, concert, cr_time_format(starts, t1), cr_time_format(opens, t2), nseats, lo,
               hi);
    }
out:
    free(prices);
    free(csv);
    cr_arena_free(a);
    return rc;
}

static int adm_sales_open(struct adm *g, const struct adm_opt *o)
{
    long long schedule, at, starts = 0, now = cr_time_now_ms();
    struct cr_arena *a = NULL;
    int rc;
    if (cr_admin_parse_id(o[0].val, &schedule, g->err, sizeof(g->err)) != CR_OK ||
        cr_admin_parse_time(o[1].val, now, &at, g->err, sizeof(g->err)) != CR_OK)
        return adm_error(g, ADM_REFUSED);
    a = cr_arena_new();
    rc = adm_result(g, cr_admin_sales_open(a, schedule, at, now, &starts, g->err,
                                           sizeof(g->err)));
    cr_arena_free(a);
    if (rc != ADM_OK)
        return rc;
    if (g->json) {
        json_object *j = json_object_new_object();
        cr_json_add_int(j, "scheduleId", schedule);
        cr_json_add_time(j, "salesOpenAt", at);
        cr_json_add_time(j, "startsAt", starts);
        adm_print_json(j);
    } else {
        char t1[CR_TIME_LEN], t2[CR_TIME_LEN];
        printf("schedule %lld: sales open %s (starts %s)\n", schedule, cr_time_format(at, t1),
               cr_time_format(starts, t2));
    }
    return ADM_OK;
}

static int adm_list(struct adm *g, const struct adm_opt *o)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_admin_row *rows = NULL;
    int n = 0, rc = adm_result(g, cr_admin_list(a, cr_time_now_ms(), &rows, &n));
    (void)o;
    char t1[CR_TIME_LEN], t2[CR_TIME_LEN];
    if (rc != ADM_OK)
        goto out;
    json_object *concerts = json_object_new_array(), *schedules = NULL;
    for (int i = 0; i < n; i++) {
        const struct cr_admin_row *r = &rows[i];
        if (i == 0 || r->concert_id != rows[i - 1].concert_id) {
            json_object *c = json_object_new_object();
            cr_json_add_int(c, "concertId", r->concert_id);
            cr_json_add_str(c, "title", r->title);
            cr_json_add_str(c, "venue", r->venue);
            schedules = json_object_new_array();
            json_object_object_add(c, "schedules", schedules);
            json_object_array_add(concerts, c);
            if (!g->json)
                printf("%sconcert %lld: %s (%s)\n", i == 0 ? "" : "\n", r->concert_id, r->title,
                       r->venue);
            if (!g->json && r->schedule_id != 0)
                printf("  %-8s %-24s %-24s %6s %6s %6s %6s %12s\n", "schedule", "starts",
                       "sales open", "seats", "sold", "held", "avail", "revenue");
        }
        if (r->schedule_id == 0)
            continue;
        json_object *s = json_object_new_object();
        cr_json_add_int(s, "scheduleId", r->schedule_id);
        cr_json_add_time(s, "startsAt", r->starts_at);
        cr_json_add_time(s, "salesOpenAt", r->sales_open_at);
        cr_json_add_int(s, "totalSeats", r->total_seats);
        cr_json_add_int(s, "sold", r->sold);
        cr_json_add_int(s, "held", r->held);
        cr_json_add_int(s, "available", r->available);
        cr_json_add_int(s, "revenue", r->revenue);
        json_object_array_add(schedules, s);
        if (!g->json)
            printf("  %-8lld %-24s %-24s %6lld %6lld %6lld %6lld %12lld\n", r->schedule_id,
                   cr_time_format(r->starts_at, t1), cr_time_format(r->sales_open_at, t2),
                   r->total_seats, r->sold, r->held, r->available, r->revenue);
    }
    if (g->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "concerts", concerts);
        adm_print_json(j);
    } else {
        json_object_put(concerts);
    }
out:
    cr_arena_free(a);
    return rc;
}

/* --- the command table ----------------------------------------------------------------- */

/* has_arg 2: required. The commands read their values by position. */
static struct adm_opt adm_concert_opts[] = {{"title", 2, NULL, 0}, {"venue", 2, NULL, 0}};
static struct adm_opt adm_schedule_opts[] = {
    {"concert", 2, NULL, 0}, {"starts-at", 2, NULL, 0}, {"sales-open-at", 2, NULL, 0},
    {"seats", 2, NULL, 0},   {"price", 1, NULL, 0},     {"prices", 1, NULL, 0},
    {"prices-csv", 1, NULL, 0}};
static struct adm_opt adm_open_opts[] = {{"schedule", 2, NULL, 0}, {"at", 2, NULL, 0}};

static const struct adm_cmd {
    const char *word1, *word2; /* "schedule", "add"; word2 NULL for one-word commands */
    struct adm_opt *opts;
    int nopts;
    const char *help;
    int (*run)(struct adm *g, const struct adm_opt *o);
} adm_cmds[] = {
    {"concert", "add", adm_concert_opts, 2, adm_help_concert, adm_concert_add},
    {"schedule", "add", adm_schedule_opts, 7, adm_help_schedule, adm_schedule_add},
    {"list", NULL, NULL, 0, adm_help_list, adm_list},
    {"sales-open", NULL, adm_open_opts, 2, adm_help_open, adm_sales_open},
};

int main(int argc, char **argv)
{
    struct adm g;
    char cerr[256];
    int i = 1, rc;
    memset(&g, 0, sizeof(g));
    /* Global options before the command. */
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            g.json = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(adm_usage, stdout);
            return ADM_OK;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            g.config = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            g.config = argv[i] + 9;
        } else {
            snprintf(g.err, sizeof(g.err), "unknown option '%.40s' before the command", argv[i]);
            return adm_error(&g, ADM_USAGE);
        }
    }
    if (i >= argc || strcmp(argv[i], "help") == 0) {
        fputs(adm_usage, i >= argc ? stderr : stdout);
        return i >= argc ? ADM_USAGE : ADM_OK;
    }
    const struct adm_cmd *cmd = NULL;
    for (size_t k = 0; k < sizeof(adm_cmds) / sizeof(adm_cmds[0]); k++) {
        const struct adm_cmd *c = &adm_cmds[k];
        if (strcmp(argv[i], c->word1) != 0)
            continue;
        if (c->word2 == NULL) {
            cmd = c;
            i++;
        } else if (i + 1 < argc && strcmp(argv[i + 1], c->word2) == 0) {
            cmd = c;
            i += 2;
        } else if (i + 1 < argc && strcmp(argv[i + 1], "--help") == 0) {
            fputs(c->help, stdout);
            return ADM_OK;
        }
        break;
    }
    if (cmd == NULL) {
        snprintf(g.err, sizeof(g.err), "unknown command '%.40s%s%.40s'", argv[i],
                 i + 1 < argc ? " " : "", i + 1 < argc ? argv[i + 1] : "");
        return adm_error(&g, ADM_USAGE);
    }
    rc = adm_options(&g, argc, argv, i, cmd->opts, cmd->nopts, cmd->help);
    if (rc < 0)
        return ADM_OK; /* --help */
    if (rc != ADM_OK || (rc = adm_required(&g, cmd->opts, cmd->nopts)) != ADM_OK)
        return adm_error(&g, rc);

    if (cr_config_load(g.config, cerr, sizeof(cerr)) != CR_OK) {
        snprintf(g.err, sizeof(g.err), "config: %s", cerr);
        return adm_error(&g, ADM_DB);
    }
    cr_log_open("admin", NULL, "error");
    rc = cmd->run(&g, cmd->opts);
    cr_db_close();
    cr_log_close();
    return rc;
}
