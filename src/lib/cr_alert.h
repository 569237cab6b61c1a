/* cr_alert.h: error alerts: the new error lines and 5xx responses in the logs, grouped by
 * (error code, group), posted as one Slack incoming-webhook message per run. */
#ifndef CR_ALERT_H
#define CR_ALERT_H

#include <stddef.h>

#define CR_ALERT_TIME_LEN 40
#define CR_ALERT_ID_LEN 72
#define CR_ALERT_CODE_LEN 48
#define CR_ALERT_GROUP_LEN 24
#define CR_ALERT_SAMPLE_LEN 160
#define CR_ALERT_NAME_LEN 32

/* Alert lines kept by one run at most; the rest waits for the next run (bounded memory in
 * an outage that writes millions of error lines). */
#define CR_ALERT_MAX_ENTRIES 100000
/* Bytes at the start of a file that identify it across renames and copies. */
#define CR_ALERT_HEAD_LEN 64
/* The files a run reads: the groups' and concert-expire's JSON logs, then nginx's. */
#define CR_ALERT_NFILES 7

enum cr_alert_source {
    CR_ALERT_APP,  /* a group's (or a job's) JSON log: level "error" or "status" >= 500 */
    CR_ALERT_NGINX /* nginx's JSON access log: status >= 500 */
};

/* One alert line. rank says which line speaks for a request that left several (the group's
 * own line with an error code beats a codeless error line, which beats nginx's line). */
struct cr_alert_entry {
    char time[CR_ALERT_TIME_LEN];
    char request_id[CR_ALERT_ID_LEN]; /* "" when the line belongs to no request */
    char code[CR_ALERT_CODE_LEN];     /* the contract code, "ERROR" (none), "HTTP_502" (nginx) */
    char group[CR_ALERT_GROUP_LEN];
    char sample[CR_ALERT_SAMPLE_LEN]; /* detail, message, or "GET /path" for nginx */
    int status;                       /* the HTTP status, 0 when the line has none */
    int rank;
};

/* Every line of one (code, group): how many, first and last time, one sample request. */
struct cr_alert_group {
    char code[CR_ALERT_CODE_LEN];
    char group[CR_ALERT_GROUP_LEN];
    long count;
    char first[CR_ALERT_TIME_LEN];
    char last[CR_ALERT_TIME_LEN];
    char request_id[CR_ALERT_ID_LEN]; /* of the first line */
    char sample[CR_ALERT_SAMPLE_LEN];
};

/* The alert lines of one run. Owns its arrays; init/cleanup pair. */
struct cr_alert_batch {
    struct cr_alert_entry *entries;
    size_t n, cap;
    size_t max; /* reading stops when n reaches it; CR_ALERT_MAX_ENTRIES after init */
    struct cr_alert_group *groups; /* filled by cr_alert_batch_group() */
    size_t ngroups;
};

/* Where a run stopped in one file: its inode, the offset after the last complete line read,
 * and a hash of its first head_len bytes (a copy made by logrotate's copytruncate keeps the
 * head but not the inode). known is 0 until the file was looked at once. */
struct cr_alert_pos {
    char name[CR_ALERT_NAME_LEN];
    unsigned long long ino;
    long long off;
    int head_len;
    unsigned long long head;
    int known;
};

/* One position per file of the fixed list, in its order. */
struct cr_alert_state {
    struct cr_alert_pos pos[CR_ALERT_NFILES];
};

/* The result of one run, printed by concert-alert as one JSON line. */
struct cr_alert_summary {
    int posted;  /* 1 when a message went out and the webhook answered 2xx */
    long lines;  /* alert lines read (before one-per-request merging) */
    long groups; /* (code, group) pairs in the message */
    long status; /* the webhook's HTTP status, 0 when nothing was posted or on no answer */
};

/* Posts body (JSON) to url; returns the HTTP status, or 0 when no answer came. */
typedef long (*cr_alert_post_fn)(const char *url, const char *body, void *ctx);

/* Parses one log line of len bytes (no newline; line[len] must be readable and is the end
 * for the JSON parser, so pass a NUL-terminated line). Returns 1 and fills e when the line is
 * an alert, 0 when it is not or is no JSON object. fallback_group names the group of a line
 * that has none (nginx lines with an empty group use "nginx"). */
int cr_alert_parse_line(enum cr_alert_source src, const char *line, size_t len,
                        const char *fallback_group, struct cr_alert_entry *e);

void cr_alert_batch_init(struct cr_alert_batch *b);
void cr_alert_batch_cleanup(struct cr_alert_batch *b);
/* Copies e into the batch. Returns CR_OK, or CR_E_INTERNAL when out of memory. */
int cr_alert_batch_add(struct cr_alert_batch *b, const struct cr_alert_entry *e);
/* Keeps one line per request id (the highest rank, then the earliest; lines without a request
 * id all count), groups the rest by (code, group) into b->groups, most frequent first, and
 * returns the number of groups (-1 when out of memory). The entries stay, except that a
 * request's kept line takes the text of its error line as its sample. */
long cr_alert_batch_group(struct cr_alert_batch *b);
/* The Slack incoming-webhook body ({"text": "..."}) for the grouped batch; malloc'd, the
 * caller frees it. NULL when out of memory. */
char *cr_alert_message(const struct cr_alert_batch *b);

/* Reads the complete lines added to dir/name since pos into b (stopping when b is full) and
 * moves pos to where it stopped. When the file was rotated (another inode, shorter than the
 * offset, or another head), it first finishes the old file if it is now dir/name.1 (the same
 * inode after a rename, or the same head after copytruncate), then starts the new file from
 * 0. A missing file is no error. Returns CR_OK, or CR_E_INTERNAL when a file cannot be read. */
int cr_alert_read(const char *dir, enum cr_alert_source src, struct cr_alert_pos *pos,
                  struct cr_alert_batch *b);

/* Fills st with the file list, every position unknown. */
void cr_alert_state_init(struct cr_alert_state *st);
/* Initialises st and reads the positions saved at path (a missing file leaves them unknown).
 * Returns CR_OK, or CR_E_INTERNAL when the file exists but cannot be read. */
int cr_alert_state_load(const char *path, struct cr_alert_state *st);
/* Writes st to path atomically (a temp file renamed over it). Returns CR_OK or CR_E_INTERNAL. */
int cr_alert_state_save(const char *path, const struct cr_alert_state *st);

/* One run over the logs in dir: under an exclusive lock (dir/alert.lock) loads dir/alert.state,
 * reads every file's new lines, and when there are alerts posts one message with post(); the
 * state is saved only after a 2xx answer (or when there was nothing to post), so a failed post
 * is retried with the same lines by the next run and no line is posted twice. An empty url
 * does nothing. Fills sum; returns CR_OK, or CR_E_INTERNAL on a hard error (unreadable log,
 * state not writable). */
int cr_alert_run(const char *dir, const char *url, cr_alert_post_fn post, void *ctx,
                 struct cr_alert_summary *sum);

#endif
