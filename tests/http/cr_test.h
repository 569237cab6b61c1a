/* cr_test.h: the HTTP test layer: requests through the real nginx with libcurl, concurrent
 * clients on threads, and JSON helpers. The stack is started by tests/http.sh. */
#ifndef CR_TEST_H
#define CR_TEST_H

#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "cr_db.h"

struct cr_test_res {
    long status;
    char *body;          /* NUL-terminated, malloc'd */
    size_t len;
    char *headers;       /* raw response headers, malloc'd */
    json_object *json;   /* parsed body or NULL */
};

/* Reads CR_BASE_URL and the stack's config (CONCERT_CONFIG) so that the library's cr_db and
 * cr_redis reach the test stack's MariaDB and Redis. Call once from main(). */
void cr_test_init(void);

/* Sends one request. headers is a NULL-terminated list of "Name: value" (or NULL). A body
 * is sent with Content-Type: application/json unless headers name another Content-Type.
 * Returns the HTTP status (0 on a transport error). Thread-safe. Free with cr_test_res_free. */
long cr_test_req(struct cr_test_res *res, const char *method, const char *path, const char *body,
                 const char *const *headers);
void cr_test_res_free(struct cr_test_res *res);
/* Sends len bytes exactly as given (a whole request, say with bytes libcurl would encode; end
 * its headers with "Connection: close") on a new connection to nginx and reads the answer
 * until the server closes. Returns its status (0 when none came). Free with cr_test_res_free. */
long cr_test_raw(struct cr_test_res *res, const char *data, size_t len);

/* The value of a response header (case-insensitive name) in a static-per-call malloc'd
 * string the caller frees; NULL when absent. */
char *cr_test_header(const struct cr_test_res *res, const char *name);
/* body.error.code, or "" when the body is no error. */
const char *cr_test_error_code(const struct cr_test_res *res);
/* A string / integer field of the body's top-level object ("" / -1 when absent). */
const char *cr_test_str(const struct cr_test_res *res, const char *key);
long long cr_test_int(const struct cr_test_res *res, const char *key);

/* Asserts a contract error answer: status, body.error.code, a message string, a non-empty
 * requestId (a replayed answer keeps the first request's), and a JSON Content-Type. Prints
 * the body when status or code differ. Main thread only (cmocka asserts). */
void cr_test_assert_error(const struct cr_test_res *res, long status, const char *code);

/* The first cell of a one-row integer query on the stack's MariaDB (-1 for NULL); sql must be
 * a literal (it keys the statement cache). Main thread only. */
long long cr_test_db_int(const char *sql, const struct cr_db_val *params, int n);

/* The first integer of a query run as MariaDB's root over the stack's socket (-1 when it
 * prints none): for what the service's own user may not see, such as other sessions in
 * information_schema. sql must hold no double quote. */
long long cr_test_root_int(const char *sql);

/* Inserts a schedule of concert_id ten years ahead with nseats seats (seat n costs 1000 * n)
 * and returns its id. Main thread only. */
long long cr_test_new_schedule(long long concert_id, int nseats);

/* After a fixture wrote seats with SQL (not through the library): gives every schedule's seat
 * map a new Redis generation (cr_catalog_touch), as the library's writers do, so that no
 * worker serves its copy of a map without asking MariaDB again. */
void cr_test_seat_maps_changed(void);

/* Runs fn(i, ctx) for i in [0, ntasks) on nthreads threads at once; returns when all ended. */
void cr_test_parallel(int nthreads, int ntasks, void (*fn)(int i, void *ctx), void *ctx);

/* Creates a user through the API and copies its id into uid (37 bytes). */
void cr_test_new_user(char *uid);

/* --- processes and time: a test waits for things by polling with a deadline ----------- */

/* Monotonic milliseconds, and a sleep that is not cut short by signals. */
long long cr_test_now_ms(void);
void cr_test_sleep_ms(long ms);

/* Polls cond(ctx) every 20 ms until it returns non-zero or timeout_ms have passed; returns
 * the last value of cond. Deadlines are generous: the machine may be slow or loaded, and a
 * test that waits less than its deadline loses nothing. */
int cr_test_wait_for(int (*cond)(void *ctx), void *ctx, long timeout_ms);

/* Runs a shell command built from fmt (printf-style); returns its exit status (-1 when it could
 * not run, 128 + n when a signal n ended it). */
int cr_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when pid exists and is not a zombie. kill(pid, 0) alone also succeeds on a zombie, and an
 * orphan that exited stays one until the machine's init reaps it, which may take a second or
 * more (FACTS.md: "Init reaps late"). */
int cr_test_pid_alive(pid_t pid);

/* The worker pids of a group of the test stack (the children of its multiwatch, found from
 * $CR_STACK_DIR/run/<group>.pid) into out; returns how many (0 when none or no stack). */
int cr_test_group_workers(const char *group, int *out, int max);

/* Runs fn(i, ctx) in bursts of ntasks requests (nthreads at once, cr_test_parallel) until every
 * worker of group has served some of them (its /proc/PID/io rchar moved: every request it
 * serves reads some), at most max_bursts; asserts the group has at least two workers (a burst
 * means nothing with one). Returns the bursts made; *served and *workers get how many workers
 * answered and how many there are. */
int cr_test_burst_workers(const char *group, int nthreads, int ntasks,
                          void (*fn)(int i, void *ctx), void *ctx, int max_bursts, int *served,
                          int *workers);

/* The sum of every command's calls in the stack's Redis (INFO commandstats). */
long long cr_test_redis_calls(void);

/* Starts the stack's Redis again after a test stopped it, as its own user (scripts/lib.sh's
 * cr_redis_start; it returns once Redis answers PING); returns the shell's exit status. */
int cr_test_redis_start(void);

#endif
