/* cr_alert.c: error alerts: reading the logs' new lines (rotation aware), one line per
 * request, grouping by (code, group), the Slack message, and the saved read positions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cr_alert.h"
#include "cr_error.h"
#include "cr_log.h"

/* Groups listed in one message at most; the rest is summed up in one line. */
#define CR_ALERT_MAX_LISTED 30

/* The files of a run, in the order they are read and kept in the state. */
static const struct {
    const char *name;
    enum cr_alert_source src;
} cr_alert_files[CR_ALERT_NFILES] = {
    {"queue.log", CR_ALERT_APP},          {"concert.log", CR_ALERT_APP},
    {"reservation.log", CR_ALERT_APP},    {"wallet.log", CR_ALERT_APP},
    {"payment.log", CR_ALERT_APP},        {"expire.log", CR_ALERT_APP},
    {"nginx-access.log", CR_ALERT_NGINX},
};

/* Copies at most cap - 1 bytes of src (NULL: "") into dst, always terminated. */
static void cr_alert_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Copies src (NULL: "") into dst like cr_alert_copy, each byte that is not an ASCII letter or
 * digit nor in allowed (NULL: any printable ASCII) replaced by '?'. The logs hold what clients
 * sent (nginx's access log their URI), and the message must say only what the service chose:
 * no raw byte, no control character, nothing that is not ASCII. */
static void cr_alert_copy_only(char *dst, size_t cap, const char *src, const char *allowed)
{
    size_t n = 0;
    for (; src != NULL && src[n] != '\0' && n + 1 < cap; n++) {
        unsigned char c = (unsigned char)src[n];
        int ok = allowed == NULL ? (c >= 0x20 && c < 0x7f)
                                 : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || (c != 0 && strchr(allowed, c)));
        dst[n] = ok ? (char)c : '?';
    }
    dst[n] = '\0';
}

#define CR_ALERT_TIME_CHARS "-:.+TZ"
#define CR_ALERT_ID_CHARS "_-"

/* The method m when an nginx alert may name it, else NULL. */
static const char *cr_alert_method(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing one line.                                                                          */

static const char *cr_alert_jstr(json_object *o, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

/* "status" as a JSON integer (nginx) or a string of digits (cr_log_kv); 0 when neither. */
static int cr_alert_jstatus(json_object *o)
{
    json_object *v;
    if (!json_object_object_get_ex(o, "status", &v))
        return 0;
    if (json_object_is_type(v, json_type_int))
        return (int)json_object_get_int(v);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        int n = 0;
        if (*s == '\0' || strlen(s) > 3)
            return 0;
        for (; *s != '\0'; s++) {
            if (*s < '0' || *s > '9')
                return 0;
            n = n * 10 + (*s - '0');
        }
        return n;
    }
    return 0;
}

/* A cheap look for the fields that can make a line an alert, before parsing any JSON: most
 * lines (every nginx 2xx/4xx, every info line) are passed over here. */
static int cr_alert_maybe(enum cr_alert_source src, const char *line)
{
    if (src == CR_ALERT_NGINX)
        return strstr(line, "\"status\":5") != NULL;
    return strstr(line, "\"level\":\"error\"") != NULL || strstr(line, "\"status\":\"5") != NULL ||
           strstr(line, "\"status\":5") != NULL;
}

int cr_alert_parse_line(enum cr_alert_source src, const char *line, size_t len,
                        const char *fallback_group, struct cr_alert_entry *e)
{
    struct json_tokener *tok = NULL;
    json_object *o = NULL;
    int alert = 0;

    if (len == 0 || !cr_alert_maybe(src, line))
        goto out;
    if ((tok = json_tokener_new()) == NULL)
        goto out;
    o = json_tokener_parse_ex(tok, line, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(o, json_type_object))
        goto out;
    int status = cr_alert_jstatus(o);
    const char *group = cr_alert_jstr(o, "group");
    memset(e, 0, sizeof(*e));
    e->status = status;
    cr_alert_copy_only(e->time, sizeof(e->time), cr_alert_jstr(o, "time"), CR_ALERT_TIME_CHARS);
    cr_alert_copy_only(e->request_id, sizeof(e->request_id), cr_alert_jstr(o, "requestId"),
                       CR_ALERT_ID_CHARS);
    if (src == CR_ALERT_NGINX) {
        if (status < 500)
            goto out;
        snprintf(e->code, sizeof(e->code), "HTTP_%d", status);
        cr_alert_copy_only(e->group, sizeof(e->group), *group != '\0' ? group : "nginx",
                           CR_ALERT_ID_CHARS);
        /* The URI, and any header that made nginx fail (a crafted Transfer-Encoding is a 501),
         * are the client's words: the sample names only the method, and the request id finds
         * the line in the access log. */
        const char *m = cr_alert_method(cr_alert_jstr(o, "method"));
        if (m != NULL)
            snprintf(e->sample, sizeof(e->sample), "nginx answered %d to a %s request", status, m);
        else
            snprintf(e->sample, sizeof(e->sample), "nginx answered %d to a request", status);
        e->rank = 1;
    } else {
        const char *code = cr_alert_jstr(o, "code");
        const char *detail = cr_alert_jstr(o, "detail");
        if (strcmp(cr_alert_jstr(o, "level"), "error") != 0 && status < 500)
            goto out;
        if (*code != '\0')
            cr_alert_copy_only(e->code, sizeof(e->code), code, "_");
        else if (status >= 500)
            snprintf(e->code, sizeof(e->code), "HTTP_%d", status);
        else
            cr_alert_copy(e->code, sizeof(e->code), "ERROR");
        cr_alert_copy_only(e->group, sizeof(e->group), *group != '\0' ? group : fallback_group,
                           CR_ALERT_ID_CHARS);
        /* The service's own text (an error line's message, a 5xx's internal detail), kept to
         * printable ASCII should a client value ever have been logged into one. */
        cr_alert_copy_only(e->sample, sizeof(e->sample),
                           *detail != '\0' ? detail : cr_alert_jstr(o, "msg"), NULL);
        e->rank = *code != '\0' ? 3 : 2;
    }
    alert = 1;
out:
    json_object_put(o);
    if (tok != NULL)
        json_tokener_free(tok);
    return alert;
}

/* ---------------------------------------------------------------------------------------- */
/* The batch: one line per request, then groups.                                              */

void cr_alert_batch_init(struct cr_alert_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->max = CR_ALERT_MAX_ENTRIES;
}

void cr_alert_batch_cleanup(struct cr_alert_batch *b)
{
    free(b->entries);
    free(b->groups);
    memset(b, 0, sizeof(*b));
}

int cr_alert_batch_add(struct cr_alert_batch *b, const struct cr_alert_entry *e)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct cr_alert_entry *p = realloc(b->entries, cap * sizeof(*p));
        if (p == NULL)
            return CR_E_INTERNAL;
        b->entries = p;
        b->cap = cap;
    }
    b->entries[b->n++] = *e;
    return CR_OK;
}

/* Orders indices into the entries (ctx) by request id, best rank first, then time. */
static int cr_alert_by_request(const void *x, const void *y, void *ctx)
{
    const struct cr_alert_entry *es = ctx, *a = &es[*(const size_t *)x],
                                *b = &es[*(const size_t *)y];
    int c = strcmp(a->request_id, b->request_id);
    if (c == 0)
        c = b->rank - a->rank;
    if (c == 0)
        c = strcmp(a->time, b->time);
    if (c == 0)
        c = (a > b) - (a < b);
    return c;
}

/* Orders indices by (code, group), then time. */
static int cr_alert_by_group(const void *x, const void *y, void *ctx)
{
    const struct cr_alert_entry *es = ctx, *a = &es[*(const size_t *)x],
                                *b = &es[*(const size_t *)y];
    int c = strcmp(a->code, b->code);
    if (c == 0)
        c = strcmp(a->group, b->group);
    if (c == 0)
        c = strcmp(a->time, b->time);
    if (c == 0)
        c = (a > b) - (a < b);
    return c;
}

/* Most frequent first, then by code and group, so the message reads the same every time. */
static int cr_alert_by_count(const void *x, const void *y)
{
    const struct cr_alert_group *a = x, *b = y;
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    int c = strcmp(a->code, b->code);
    return c != 0 ? c : strcmp(a->group, b->group);
}

long cr_alert_batch_group(struct cr_alert_batch *b)
{
    size_t *idx = NULL, *kept = NULL, nk = 0, ng = 0;
    long rc = -1;

    free(b->groups);
    b->groups = NULL;
    b->ngroups = 0;
    if (b->n == 0)
        return 0;
    idx = malloc(b->n * sizeof(*idx));
    kept = malloc(b->n * sizeof(*kept));
    if (idx == NULL || kept == NULL)
        goto out;
    for (size_t i = 0; i < b->n; i++)
        idx[i] = i;
    /* A failed request leaves the group's line, maybe a codeless error line before it, and
     * nginx's line: it counts once, under the most telling of them. */
    qsort_r(idx, b->n, sizeof(*idx), cr_alert_by_request, b->entries);
    for (size_t i = 0, merged = 0; i < b->n; i++) {
        struct cr_alert_entry *e = &b->entries[idx[i]];
        if (*e->request_id == '\0' || i == 0 ||
            strcmp(e->request_id, b->entries[kept[nk - 1]].request_id) != 0) {
            kept[nk++] = idx[i];
            merged = 0;
            continue;
        }
        /* The error line says what went wrong ("mariadb error ..."), the 5xx line only
         * "internal error": the request's sample is the (first) error line's text. */
        struct cr_alert_entry *k = &b->entries[kept[nk - 1]];
        if (!merged && k->rank == 3 && e->rank == 2 && *e->sample != '\0') {
            memcpy(k->sample, e->sample, sizeof(k->sample));
            merged = 1;
        }
    }
    qsort_r(kept, nk, sizeof(*kept), cr_alert_by_group, b->entries);
    for (size_t i = 0; i < nk; i++) {
        const struct cr_alert_entry *e = &b->entries[kept[i]];
        const struct cr_alert_entry *p = i > 0 ? &b->entries[kept[i - 1]] : NULL;
        if (p == NULL || strcmp(p->code, e->code) != 0 || strcmp(p->group, e->group) != 0)
            ng++;
    }
    b->groups = calloc(ng, sizeof(*b->groups));
    if (b->groups == NULL)
        goto out;
    struct cr_alert_group *g = NULL;
    for (size_t i = 0; i < nk; i++) {
        const struct cr_alert_entry *e = &b->entries[kept[i]];
        if (g == NULL || strcmp(g->code, e->code) != 0 || strcmp(g->group, e->group) != 0) {
            g = &b->groups[b->ngroups++];
            cr_alert_copy(g->code, sizeof(g->code), e->code);
            cr_alert_copy(g->group, sizeof(g->group), e->group);
            cr_alert_copy(g->first, sizeof(g->first), e->time);
            cr_alert_copy(g->request_id, sizeof(g->request_id), e->request_id);
            cr_alert_copy(g->sample, sizeof(g->sample), e->sample);
        }
        g->count++;
        cr_alert_copy(g->last, sizeof(g->last), e->time);
    }
    qsort(b->groups, b->ngroups, sizeof(*b->groups), cr_alert_by_count);
    rc = (long)b->ngroups;
out:
    free(idx);
    free(kept);
    return rc;
}

/* Writes s for Slack's mrkdwn, where &, < and > are control characters (and ` ends code). */
static void cr_alert_mrkdwn(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '`')
            fputc('\'', f);
        else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            fputc('?', f); /* the fields are ASCII already (cr_alert_copy_only) */
        else
            fputc(*s, f);
    }
}

char *cr_alert_message(const struct cr_alert_batch *b)
{
    char *text = NULL, *out = NULL;
    size_t len = 0;
    long total = 0, rest = 0;
    const char *first = "", *last = "";
    json_object *o = NULL;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        goto out;
    for (size_t i = 0; i < b->ngroups; i++) {
        const struct cr_alert_group *g = &b->groups[i];
        total += g->count;
        if (*first == '\0' || (*g->first != '\0' && strcmp(g->first, first) < 0))
            first = g->first;
        if (strcmp(g->last, last) > 0)
            last = g->last;
    }
    fprintf(f, "*concert: %ld error%s in %zu group%s*", total, total == 1 ? "" : "s", b->ngroups,
            b->ngroups == 1 ? "" : "s");
    if (*first != '\0')
        fprintf(f, " (%s to %s)", first, last);
    for (size_t i = 0; i < b->ngroups; i++) {
        const struct cr_alert_group *g = &b->groups[i];
        if (i >= CR_ALERT_MAX_LISTED) {
            rest += g->count;
            continue;
        }
        fputs("\n• `", f);
        cr_alert_mrkdwn(f, g->code);
        fputs("` in *", f);
        cr_alert_mrkdwn(f, g->group);
        fprintf(f, "*: %ld, first %s, last %s", g->count, g->first, g->last);
        if (*g->request_id != '\0') {
            fputs(", request `", f);
            cr_alert_mrkdwn(f, g->request_id);
            fputc('`', f);
        }
        if (*g->sample != '\0') {
            fputs(": ", f);
            cr_alert_mrkdwn(f, g->sample);
        }
    }
    if (b->ngroups > CR_ALERT_MAX_LISTED)
        fprintf(f, "\n• and %zu more groups with %ld errors", b->ngroups - CR_ALERT_MAX_LISTED,
                rest);
    if (b->n >= b->max)
        fputs("\n_More error lines are waiting: the next run reports them._", f);
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
    out = strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
    if (f != NULL)
        fclose(f);
    free(text);
    json_object_put(o);
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading a file from where the last run stopped.                                            */

static unsigned long long cr_alert_fnv(const unsigned char *p, size_t n)
{
    unsigned long long h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The hash of the first len bytes of f into *hash. Returns 0, or -1 when f is shorter. */
static int cr_alert_head(FILE *f, int len, unsigned long long *hash)
{
    unsigned char buf[CR_ALERT_HEAD_LEN];
    if (len < 0 || len > CR_ALERT_HEAD_LEN)
        return -1;
    if (len > 0 && pread(fileno(f), buf, (size_t)len, 0) != (ssize_t)len)
        return -1;
    *hash = cr_alert_fnv(buf, (size_t)len);
    return 0;
}

/* 1 when f starts with the bytes pos remembers. */
static int cr_alert_head_matches(FILE *f, const struct cr_alert_pos *pos)
{
    unsigned long long h;
    return pos->head_len == 0 || (cr_alert_head(f, pos->head_len, &h) == 0 && h == pos->head);
}

/* Reads f's lines from *off into b until EOF or a full batch, moving *off past each line
 * read. A last line without its newline is still being written: it waits for the next run,
 * unless final (a rotated file that gets no more lines). */
static int cr_alert_scan(FILE *f, enum cr_alert_source src, const char *group, long long *off,
                         int final, struct cr_alert_batch *b)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CR_OK;

    if (fseeko(f, (off_t)*off, SEEK_SET) != 0) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    while (b->n < b->max && (n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n;
        struct cr_alert_entry e;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!final)
            break;
        *off += n;
        if (cr_alert_parse_line(src, line, len, group, &e) == 1 &&
            (rc = cr_alert_batch_add(b, &e)) != CR_OK)
            goto out;
    }
    if (ferror(f))
        rc = CR_E_INTERNAL;
out:
    free(line);
    return rc;
}

int cr_alert_read(const char *dir, enum cr_alert_source src, struct cr_alert_pos *pos,
                  struct cr_alert_batch *b)
{
    char path[4096], old[4100], group[CR_ALERT_GROUP_LEN];
    FILE *f = NULL, *fo = NULL;
    struct stat st, sto;
    int rc = CR_OK;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, pos->name) >= sizeof(path)) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    snprintf(old, sizeof(old), "%s.1", path);
    cr_alert_copy(group, sizeof(group), pos->name);
    group[strcspn(group, ".")] = '\0';

    f = fopen(path, "re");
    if ((f == NULL && errno != ENOENT) || (f != NULL && fstat(fileno(f), &st) != 0)) {
        cr_log_error("alert: cannot read %s: %s", path, strerror(errno));
        rc = CR_E_INTERNAL;
        goto out;
    }
    int same = f != NULL && (unsigned long long)st.st_ino == pos->ino && st.st_size >= pos->off &&
               cr_alert_head_matches(f, pos);
    if (pos->known && !same) {
        /* Rotated: a rename keeps the inode; copytruncate makes a copy with the same head. */
        fo = fopen(old, "re");
        if (fo != NULL && fstat(fileno(fo), &sto) == 0 && sto.st_size >= pos->off &&
            ((unsigned long long)sto.st_ino == pos->ino || pos->head_len > 0) &&
            cr_alert_head_matches(fo, pos)) {
            rc = cr_alert_scan(fo, src, group, &pos->off, 1, b);
            if (rc != CR_OK || b->n >= b->max)
                goto out; /* pos still names the old file: the next run finishes it */
        }
        pos->ino = 0;
        pos->off = 0;
        pos->head_len = 0;
        pos->head = 0;
    }
    pos->known = 1;
    if (f == NULL)
        goto out;
    pos->ino = (unsigned long long)st.st_ino;
    if ((rc = cr_alert_scan(f, src, group, &pos->off, 0, b)) != CR_OK)
        goto out;
    int hl = pos->off < CR_ALERT_HEAD_LEN ? (int)pos->off : CR_ALERT_HEAD_LEN;
    if (cr_alert_head(f, hl, &pos->head) == 0)
        pos->head_len = hl;
    else
        rc = CR_E_INTERNAL; /* shorter than what was just read: truncated under us */
out:
    if (f != NULL)
        fclose(f);
    if (fo != NULL)
        fclose(fo);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The saved positions.                                                                       */

void cr_alert_state_init(struct cr_alert_state *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < CR_ALERT_NFILES; i++)
        cr_alert_copy(st->pos[i].name, sizeof(st->pos[i].name), cr_alert_files[i].name);
}

int cr_alert_state_load(const char *path, struct cr_alert_state *st)
{
    char line[256], name[CR_ALERT_NAME_LEN];
    struct cr_alert_pos p;
    FILE *f;

    cr_alert_state_init(st);
    if ((f = fopen(path, "re")) == NULL) {
        if (errno == ENOENT)
            return CR_OK;
        cr_log_error("alert: cannot read %s: %s", path, strerror(errno));
        return CR_E_INTERNAL;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%31s %llu %lld %d %llx", name, &p.ino, &p.off, &p.head_len, &p.head) !=
                5 ||
            p.off < 0 || p.head_len < 0 || p.head_len > CR_ALERT_HEAD_LEN)
            continue;
        for (int i = 0; i < CR_ALERT_NFILES; i++)
            if (strcmp(st->pos[i].name, name) == 0) {
                cr_alert_copy(p.name, sizeof(p.name), name);
                p.known = 1;
                st->pos[i] = p;
            }
    }
    fclose(f);
    return CR_OK;
}

int cr_alert_state_save(const char *path, const struct cr_alert_state *st)
{
    char tmp[4200];
    FILE *f = NULL;
    int rc = CR_E_INTERNAL;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        goto out;
    /* 0640 whatever the umask: like the logs it describes, nothing for others. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        goto out;
    }
    fputs("# concert-alert: where the last run stopped (file inode offset head-length head-hash)\n",
          f);
    for (int i = 0; i < CR_ALERT_NFILES; i++) {
        const struct cr_alert_pos *p = &st->pos[i];
        if (p->known)
            fprintf(f, "%s %llu %lld %d %016llx\n", p->name, p->ino, p->off, p->head_len, p->head);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0)
        goto out;
    rc = CR_OK;
out:
    if (f != NULL)
        fclose(f);
    if (rc != CR_OK) {
        cr_log_error("alert: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* One run.                                                                                   */

int cr_alert_run(const char *dir, const char *url, cr_alert_post_fn post, void *ctx,
                 struct cr_alert_summary *sum)
{
    char lockp[4096], statep[4096];
    struct cr_alert_state st;
    struct cr_alert_batch b;
    char *body = NULL;
    int lockfd = -1, rc = CR_OK;
    long ng;

    memset(sum, 0, sizeof(*sum));
    cr_alert_batch_init(&b);
    if (url == NULL || *url == '\0')
        goto out;
    if ((size_t)snprintf(lockp, sizeof(lockp), "%s/alert.lock", dir) >= sizeof(lockp) ||
        (size_t)snprintf(statep, sizeof(statep), "%s/alert.state", dir) >= sizeof(statep)) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    /* A second copy (cron and a hand run) waits here, then starts where this one stopped. */
    if ((lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0 ||
        flock(lockfd, LOCK_EX) != 0) {
        cr_log_error("alert: cannot lock %s: %s", lockp, strerror(errno));
        rc = CR_E_INTERNAL;
        goto out;
    }
    if ((rc = cr_alert_state_load(statep, &st)) != CR_OK)
        goto out;
    for (int i = 0; i < CR_ALERT_NFILES && b.n < b.max; i++)
        if ((rc = cr_alert_read(dir, cr_alert_files[i].src, &st.pos[i], &b)) != CR_OK)
            goto out;
    sum->lines = (long)b.n;
    if ((ng = cr_alert_batch_group(&b)) < 0) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    sum->groups = ng;
    if (ng > 0) {
        if ((body = cr_alert_message(&b)) == NULL) {
            rc = CR_E_INTERNAL;
            goto out;
        }
        sum->status = post(url, body, ctx);
        if (sum->status < 200 || sum->status > 299) {
            /* Not saved: the next run reads (and posts) the same lines again. */
            cr_log_warn("alert: the webhook answered %ld; %ld lines wait for the next run",
                        sum->status, sum->lines);
            goto out;
        }
        sum->posted = 1;
    }
    rc = cr_alert_state_save(statep, &st);
out:
    free(body);
    cr_alert_batch_cleanup(&b);
    if (lockfd >= 0)
        close(lockfd); /* releases the lock */
    return rc;
}
