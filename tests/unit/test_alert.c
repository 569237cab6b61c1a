/* test_alert.c: unit tests of the error alerts: line parsing, one line per request, grouping,
 * the Slack message, and the read positions across rotation, on temp files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cr_alert.h"
#include "cr_error.h"
#include "cr_text.h"

/* ---------------------------------------------------------------------------------------- */
/* Parsing.                                                                                   */

static int parse(enum cr_alert_source src, const char *line, struct cr_alert_entry *e)
{
    return cr_alert_parse_line(src, line, strlen(line), "fallback", e);
}

static void test_parse_app_failed_request(void **state)
{
    struct cr_alert_entry e;
    const char *l =
        "{\"time\":\"2026-01-01T00:00:01.000Z\",\"level\":\"error\",\"group\":\"queue\","
        "\"requestId\":\"r1\",\"msg\":\"request failed\",\"status\":\"503\","
        "\"code\":\"SERVICE_UNAVAILABLE\",\"detail\":\"redis unreachable\","
        "\"path\":\"/api/v1/queue/tokens\"}";
    assert_int_equal(parse(CR_ALERT_APP, l, &e), 1);
    assert_string_equal(e.time, "2026-01-01T00:00:01.000Z");
    assert_string_equal(e.request_id, "r1");
    assert_string_equal(e.code, "SERVICE_UNAVAILABLE");
    assert_string_equal(e.group, "queue");
    assert_string_equal(e.sample, "redis unreachable");
    assert_int_equal(e.status, 503);
    assert_int_equal(e.rank, 3);
}

static void test_parse_app_error_without_code(void **state)
{
    struct cr_alert_entry e;
    const char *l =
        "{\"time\":\"2026-01-01T00:00:02.000Z\",\"level\":\"error\",\"group\":\"payment\","
        "\"requestId\":\"\",\"msg\":\"mariadb error 1146: no table\"}";
    assert_int_equal(parse(CR_ALERT_APP, l, &e), 1);
    assert_string_equal(e.code, "ERROR");
    assert_string_equal(e.group, "payment");
    assert_string_equal(e.request_id, "");
    assert_string_equal(e.sample, "mariadb error 1146: no table");
    assert_int_equal(e.status, 0);
    assert_int_equal(e.rank, 2);
    /* No group in the line: the file's. A 5xx status without a code: HTTP_<status>. */
    l = "{\"level\":\"warn\",\"status\":\"500\",\"msg\":\"x\"}";
    assert_int_equal(parse(CR_ALERT_APP, l, &e), 1);
    assert_string_equal(e.group, "fallback");
    assert_string_equal(e.code, "HTTP_500");
}

static void test_parse_app_non_alerts(void **state)
{
    struct cr_alert_entry e;
    /* A 404 is the client's business: logged at info, no alert. */
    assert_int_equal(parse(CR_ALERT_APP,
                           "{\"level\":\"info\",\"group\":\"queue\",\"msg\":\"request refused\","
                           "\"status\":\"404\",\"code\":\"NOT_FOUND\"}",
                           &e),
                     0);
    assert_int_equal(
        parse(CR_ALERT_APP, "{\"level\":\"warn\",\"msg\":\"redis connect failed\"}", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "{\"level\":\"error\",\"msg\":\"cut", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "not json \"level\":\"error\"", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "[\"level\":\"error\"]", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "{\"holdsReleased\":0,\"ok\":true}", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "", &e), 0);
    assert_int_equal(parse(CR_ALERT_APP, "{\"level\":\"info\",\"status\":\"5xx\"}", &e), 0);
}

static void test_parse_nginx(void **state)
{
    struct cr_alert_entry e;
    const char *l =
        "{\"time\":\"2026-01-01T00:00:03.000Z\",\"requestId\":\"n1\",\"method\":\"GET\","
        "\"uri\":\"/api/v1/users/x/payments\",\"status\":502,\"bytes\":90,"
        "\"requestTime\":0.001,\"upstreamTime\":\"0.000\",\"group\":\"payment\"}";
    assert_int_equal(parse(CR_ALERT_NGINX, l, &e), 1);
    assert_string_equal(e.code, "HTTP_502");
    assert_string_equal(e.group, "payment");
    assert_string_equal(e.request_id, "n1");
    assert_string_equal(e.sample, "nginx answered 502 to a GET request");
    assert_int_equal(e.rank, 1);
    l = "{\"time\":\"t\",\"requestId\":\"n2\",\"method\":\"GET\",\"uri\":\"/x\",\"status\":503,"
        "\"group\":\"\"}";
    assert_int_equal(parse(CR_ALERT_NGINX, l, &e), 1);
    assert_string_equal(e.group, "nginx");
    l = "{\"time\":\"t\",\"requestId\":\"n3\",\"method\":\"GET\",\"uri\":\"/x\",\"status\":404,"
        "\"group\":\"concert\"}";
    assert_int_equal(parse(CR_ALERT_NGINX, l, &e), 0);
    l = "{\"time\":\"t\",\"requestId\":\"n4\",\"method\":\"GET\",\"uri\":\"/x\",\"status\":200,"
        "\"bytes\":5000,\"group\":\"concert\"}";
    assert_int_equal(parse(CR_ALERT_NGINX, l, &e), 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Grouping and the message.                                                                  */

static void add(struct cr_alert_batch *b, const char *time, const char *rid, const char *code,
                const char *group, const char *sample, int rank)
{
    struct cr_alert_entry e;
    memset(&e, 0, sizeof(e));
    snprintf(e.time, sizeof(e.time), "%s", time);
    snprintf(e.request_id, sizeof(e.request_id), "%s", rid);
    snprintf(e.code, sizeof(e.code), "%s", code);
    snprintf(e.group, sizeof(e.group), "%s", group);
    snprintf(e.sample, sizeof(e.sample), "%s", sample);
    e.rank = rank;
    assert_int_equal(cr_alert_batch_add(b, &e), CR_OK);
}

static void test_group_one_line_per_request(void **state)
{
    struct cr_alert_batch b;
    cr_alert_batch_init(&b);
    /* A: the group's 503 and nginx's line for it. */
    add(&b, "T01", "A", "HTTP_503", "queue", "POST /api/v1/queue/tokens", 1);
    add(&b, "T00", "A", "SERVICE_UNAVAILABLE", "queue", "redis unreachable", 3);
    /* B: a codeless mariadb error line, the 500, nginx's line. */
    add(&b, "T02", "B", "ERROR", "concert", "mariadb error", 2);
    add(&b, "T02", "B", "INTERNAL_ERROR", "concert", "internal error", 3);
    add(&b, "T03", "B", "HTTP_500", "concert", "GET /api/v1/concerts", 1);
    /* C: only nginx saw it (the group was down). */
    add(&b, "T04", "C", "HTTP_502", "payment", "GET /x", 1);
    add(&b, "T05", "D", "SERVICE_UNAVAILABLE", "queue", "redis unreachable", 3);
    /* No request: every line counts. */
    add(&b, "T06", "", "ERROR", "expire", "queue maintenance failed", 2);
    add(&b, "T07", "", "ERROR", "expire", "queue maintenance failed", 2);

    assert_int_equal(cr_alert_batch_group(&b), 4);
    assert_int_equal(b.n, 9);
    /* Most frequent first, then by code. */
    assert_string_equal(b.groups[0].code, "ERROR");
    assert_string_equal(b.groups[0].group, "expire");
    assert_int_equal(b.groups[0].count, 2);
    assert_string_equal(b.groups[0].first, "T06");
    assert_string_equal(b.groups[0].last, "T07");
    assert_string_equal(b.groups[0].request_id, "");
    assert_string_equal(b.groups[1].code, "SERVICE_UNAVAILABLE");
    assert_string_equal(b.groups[1].group, "queue");
    assert_int_equal(b.groups[1].count, 2);
    assert_string_equal(b.groups[1].first, "T00");
    assert_string_equal(b.groups[1].last, "T05");
    assert_string_equal(b.groups[1].request_id, "A");
    assert_string_equal(b.groups[1].sample, "redis unreachable");
    assert_string_equal(b.groups[2].code, "HTTP_502");
    assert_int_equal(b.groups[2].count, 1);
    assert_string_equal(b.groups[3].code, "INTERNAL_ERROR");
    assert_string_equal(b.groups[3].group, "concert");
    assert_int_equal(b.groups[3].count, 1);
    assert_string_equal(b.groups[3].request_id, "B");
    assert_string_equal(b.groups[3].sample, "mariadb error"); /* the telling line's text */
    /* Grouping twice gives the same. */
    assert_int_equal(cr_alert_batch_group(&b), 4);
    cr_alert_batch_cleanup(&b);
    cr_alert_batch_init(&b);
    assert_int_equal(cr_alert_batch_group(&b), 0);
    cr_alert_batch_cleanup(&b);
}

/* The "text" of a message body, checked to be the only field. Caller frees. */
static char *message_text(const char *body)
{
    json_object *o = json_tokener_parse(body), *t;
    assert_non_null(o);
    assert_int_equal(json_object_object_length(o), 1);
    assert_true(json_object_object_get_ex(o, "text", &t));
    char *s = strdup(json_object_get_string(t));
    json_object_put(o);
    return s;
}

static void test_message_text(void **state)
{
    struct cr_alert_batch b;
    cr_alert_batch_init(&b);
    add(&b, "2026-01-01T00:00:01.000Z", "rq-1", "SERVICE_UNAVAILABLE", "queue", "redis unreachable",
        3);
    add(&b, "2026-01-01T00:00:03.000Z", "rq-2", "SERVICE_UNAVAILABLE", "queue", "redis unreachable",
        3);
    add(&b, "2026-01-01T00:00:02.000Z", "", "ERROR", "expire", "a <b> & `c`", 2);
    assert_int_equal(cr_alert_batch_group(&b), 2);
    char *body = cr_alert_message(&b);
    assert_non_null(body);
    char *text = message_text(body);
    assert_string_equal(
        text,
        "*concert: 3 errors in 2 groups* (2026-01-01T00:00:01.000Z to 2026-01-01T00:00:03.000Z)\n"
        "• `SERVICE_UNAVAILABLE` in *queue*: 2, first 2026-01-01T00:00:01.000Z, last "
        "2026-01-01T00:00:03.000Z, request `rq-1`: redis unreachable\n"
        "• `ERROR` in *expire*: 1, first 2026-01-01T00:00:02.000Z, last "
        "2026-01-01T00:00:02.000Z: a &lt;b&gt; &amp; 'c'");
    /* Slashes are not escaped: URLs in samples stay readable in the raw body. */
    assert_null(strstr(body, "\\/"));
    free(text);
    free(body);
    cr_alert_batch_cleanup(&b);
}

/* The URI of an nginx line, and any odd field of a log line, are client text: the message
 * names only fixed words, codes, groups, times and request ids, all printable ASCII. A client
 * made nginx answer 501 (a crafted Transfer-Encoding) with a URI written for the alert. */
static void test_message_holds_no_client_text(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"time\":\"2026-01-01T00:00:01.000Z\",\"requestId\":\"n1\",\"method\":\"GET\","
        "\"uri\":\"/api/v1/<!channel>*URGENT*call-evil.example\",\"status\":501,\"group\":\"\"}",
        "{\"time\":\"2026-01-01T00:00:02.000Z\",\"requestId\":\"n2\",\"method\":\"PWN\\u001b[2J\","
        "\"uri\":\"/\xff\xfe\",\"status\":505,\"group\":\"\"}",
        "{\"time\":\"2026-01-01T00:00:03\\u0007Z\",\"requestId\":\"n3<!here>\",\"method\":\"GET\","
        "\"uri\":\"/x\",\"status\":502,\"group\":\"pay\\nment\"}",
    };
    struct cr_alert_batch b;
    struct cr_alert_entry e;
    cr_alert_batch_init(&b);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(parse(CR_ALERT_NGINX, lines[i], &e), 1);
        assert_int_equal(cr_alert_batch_add(&b, &e), CR_OK);
    }
    const char *app = "{\"time\":\"t\",\"level\":\"error\",\"group\":\"wallet\","
                      "\"requestId\":\"a1\","
                      "\"msg\":\"request failed\",\"status\":\"500\",\"code\":\"X<!here>\","
                      "\"detail\":\"oops \\u001b[2J \xff\xc3\xa9 <!channel>\"}";
    assert_int_equal(parse(CR_ALERT_APP, app, &e), 1);
    assert_int_equal(cr_alert_batch_add(&b, &e), CR_OK);
    assert_true(cr_alert_batch_group(&b) > 0);
    char *body = cr_alert_message(&b);
    assert_non_null(body);
    char *text = message_text(body);
    assert_true(cr_utf8_valid(body, strlen(body)));
    for (const char *p = text; *p != '\0'; p++)
        assert_true((unsigned char)*p >= 0x20 || *p == '\n');
    /* An app line's detail is the service's own text: kept, but only as escaped ASCII. */
    static const char *const never[] = {"URGENT", "evil", "PWN",    "\xff",
                                        "<!",     "\x1b", "\x07", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strstr(text, never[i]) != NULL)
            fail_msg("the message repeats client text: %s", text);
    assert_non_null(strstr(text, "nginx answered 501 to a GET request"));
    assert_non_null(strstr(text, "nginx answered 505 to a request"));
    free(text);
    free(body);
    cr_alert_batch_cleanup(&b);
}

static void test_message_lists_at_most_30_groups(void **state)
{
    struct cr_alert_batch b;
    char code[16];
    cr_alert_batch_init(&b);
    for (int i = 0; i < 35; i++) {
        snprintf(code, sizeof(code), "C%02d", i);
        add(&b, "T", "", code, "queue", "", 2);
    }
    assert_int_equal(cr_alert_batch_group(&b), 35);
    char *body = cr_alert_message(&b);
    char *text = message_text(body);
    assert_non_null(strstr(text, "*concert: 35 errors in 35 groups*"));
    assert_non_null(strstr(text, "`C29`"));
    assert_null(strstr(text, "`C30`"));
    assert_non_null(strstr(text, "• and 5 more groups with 5 errors"));
    free(text);
    free(body);
    cr_alert_batch_cleanup(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading files across rotation.                                                             */

struct fx {
    char dir[256];
};

static const char *const fx_files[] = {"queue.log",  "queue.log.1",      "expire.log",
                                       "wallet.log", "nginx-access.log", "alert.state",
                                       "alert.lock", "alert.state.tmp"};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/cr_alert_test_XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char p[400];
    for (size_t i = 0; i < sizeof(fx_files) / sizeof(fx_files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->dir, fx_files[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void fx_path(const struct fx *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, name);
}

/* Writes text to dir/name with fopen mode ("a" appends, "w" truncates). */
static void fx_write(const struct fx *f, const char *name, const char *mode, const char *text)
{
    char p[400];
    fx_path(f, name, p, sizeof(p));
    FILE *fp = fopen(p, mode);
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* One error line of the queue group whose code names it (for telling lines apart); the code
 * comes first so that each line's head differs, as the timestamps make real ones differ. */
static const char *line(const char *code)
{
    static char buf[8][256];
    static int k;
    char *s = buf[k++ % 8];
    snprintf(s, 256,
             "{\"code\":\"%s\",\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"error\","
             "\"group\":\"queue\",\"requestId\":\"\",\"msg\":\"m\"}\n",
             code);
    return s;
}

static const char info_line[] =
    "{\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"group\":\"queue\","
    "\"requestId\":\"x\",\"msg\":\"worker started\"}\n";

/* Reads queue.log into a fresh batch and returns the codes read, space-separated. */
static const char *read_codes(const struct fx *f, struct cr_alert_pos *pos, size_t max)
{
    static char out[512];
    struct cr_alert_batch b;
    cr_alert_batch_init(&b);
    if (max > 0)
        b.max = max;
    assert_int_equal(cr_alert_read(f->dir, CR_ALERT_APP, pos, &b), CR_OK);
    out[0] = '\0';
    for (size_t i = 0; i < b.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "",
                 b.entries[i].code);
    cr_alert_batch_cleanup(&b);
    return out;
}

static struct cr_alert_pos queue_pos(void)
{
    struct cr_alert_state st;
    cr_alert_state_init(&st);
    assert_string_equal(st.pos[0].name, "queue.log");
    return st.pos[0];
}

static void test_read_new_lines_only(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    /* No file yet: nothing, no error. */
    assert_string_equal(read_codes(f, &pos, 0), "");
    assert_int_equal(pos.known, 1);
    fx_write(f, "queue.log", "a", info_line);
    fx_write(f, "queue.log", "a", line("L1"));
    assert_string_equal(read_codes(f, &pos, 0), "L1");
    assert_int_equal(pos.off, (long long)(strlen(info_line) + strlen(line("L1"))));
    assert_int_equal(pos.head_len, CR_ALERT_HEAD_LEN);
    assert_string_equal(read_codes(f, &pos, 0), "");
    fx_write(f, "queue.log", "a", line("L2"));
    fx_write(f, "queue.log", "a", line("L3"));
    assert_string_equal(read_codes(f, &pos, 0), "L2 L3");
    assert_string_equal(read_codes(f, &pos, 0), "");
}

static void test_read_waits_for_a_whole_line(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char half[256];
    const char *l2 = line("L2");
    snprintf(half, sizeof(half), "%s%.20s", line("L1"), l2);
    fx_write(f, "queue.log", "a", half);
    assert_string_equal(read_codes(f, &pos, 0), "L1");
    assert_int_equal(pos.off, (long long)strlen(line("L1")));
    fx_write(f, "queue.log", "a", l2 + 20);
    assert_string_equal(read_codes(f, &pos, 0), "L2");
}

static void test_read_after_rename_rotation(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char live[400], old[400];
    struct stat st;
    fx_path(f, "queue.log", live, sizeof(live));
    fx_path(f, "queue.log.1", old, sizeof(old));
    fx_write(f, "queue.log", "a", line("L1"));
    assert_string_equal(read_codes(f, &pos, 0), "L1");
    fx_write(f, "queue.log", "a", line("L2"));   /* written before the rotation, not read yet */
    assert_int_equal(rename(live, old), 0);      /* logrotate without copytruncate */
    fx_write(f, "queue.log.1", "a", line("L3")); /* a writer that has not reopened yet */
    fx_write(f, "queue.log", "a", line("L4"));
    assert_string_equal(read_codes(f, &pos, 0), "L2 L3 L4");
    assert_int_equal(stat(live, &st), 0);
    assert_true(pos.ino == (unsigned long long)st.st_ino);
    assert_int_equal(pos.off, (long long)strlen(line("L4")));
    assert_string_equal(read_codes(f, &pos, 0), "");
    /* The old file is finished: later lines in it are not read again, nor is it re-read. */
    fx_write(f, "queue.log", "a", line("L5"));
    assert_string_equal(read_codes(f, &pos, 0), "L5");
}

static void test_read_after_copytruncate(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char all[1024];
    fx_write(f, "queue.log", "a", line("L1"));
    fx_write(f, "queue.log", "a", line("L2"));
    assert_string_equal(read_codes(f, &pos, 0), "L1 L2");
    fx_write(f, "queue.log", "a", line("L3"));
    /* copytruncate: a copy (a new inode) with the whole content, then the live file emptied. */
    snprintf(all, sizeof(all), "%s%s%s", line("L1"), line("L2"), line("L3"));
    fx_write(f, "queue.log.1", "w", all);
    fx_write(f, "queue.log", "w", "");
    fx_write(f, "queue.log", "a", line("L4"));
    assert_string_equal(read_codes(f, &pos, 0), "L3 L4");
    assert_string_equal(read_codes(f, &pos, 0), "");
}

static void test_read_after_truncate_regrown_past_offset(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char all[1024];
    fx_write(f, "queue.log", "a", line("L1"));
    assert_string_equal(read_codes(f, &pos, 0), "L1");
    fx_write(f, "queue.log", "a", line("L2"));
    snprintf(all, sizeof(all), "%s%s", line("L1"), line("L2"));
    fx_write(f, "queue.log.1", "w", all);
    /* Emptied, then longer than the old offset again before this run: same inode, other head. */
    fx_write(f, "queue.log", "w", info_line);
    fx_write(f, "queue.log", "a", line("L3"));
    fx_write(f, "queue.log", "a", line("L4"));
    assert_string_equal(read_codes(f, &pos, 0), "L2 L3 L4");
}

static void test_read_truncated_without_copy(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    fx_write(f, "queue.log", "a", line("L1"));
    fx_write(f, "queue.log", "a", line("L2"));
    assert_string_equal(read_codes(f, &pos, 0), "L1 L2");
    fx_write(f, "queue.log", "w", line("L3"));
    assert_string_equal(read_codes(f, &pos, 0), "L3");
}

static void test_read_ignores_an_unrelated_old_file(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char live[400];
    fx_path(f, "queue.log", live, sizeof(live));
    fx_write(f, "queue.log.1", "a", line("O1")); /* yesterday's, already reported */
    fx_write(f, "queue.log.1", "a", line("O2"));
    fx_write(f, "queue.log", "a", line("L1"));
    assert_string_equal(read_codes(f, &pos, 0), "L1");
    /* The live file replaced by hand (no rotation): .1 is not the old file. */
    assert_int_equal(unlink(live), 0);
    fx_write(f, "queue.log", "a", line("L2"));
    assert_string_equal(read_codes(f, &pos, 0), "L2");
    /* Deleted and not there: nothing; then back. */
    assert_int_equal(unlink(live), 0);
    assert_string_equal(read_codes(f, &pos, 0), "");
    assert_int_equal(pos.off, 0);
    fx_write(f, "queue.log", "a", line("L3"));
    assert_string_equal(read_codes(f, &pos, 0), "L3");
}

static void test_read_stops_at_a_full_batch(void **state)
{
    struct fx *f = *state;
    struct cr_alert_pos pos = queue_pos();
    char live[400], old[400];
    fx_path(f, "queue.log", live, sizeof(live));
    fx_path(f, "queue.log.1", old, sizeof(old));
    fx_write(f, "queue.log", "a", line("L1"));
    fx_write(f, "queue.log", "a", info_line);
    fx_write(f, "queue.log", "a", line("L2"));
    fx_write(f, "queue.log", "a", line("L3"));
    assert_string_equal(read_codes(f, &pos, 2), "L1 L2");
    assert_string_equal(read_codes(f, &pos, 2), "L3");
    /* Full in the middle of the rotated file: the next read goes on there. */
    fx_write(f, "queue.log", "a", line("L4"));
    fx_write(f, "queue.log", "a", line("L5"));
    assert_int_equal(rename(live, old), 0);
    fx_write(f, "queue.log", "a", line("L6"));
    assert_string_equal(read_codes(f, &pos, 1), "L4");
    assert_string_equal(read_codes(f, &pos, 0), "L5 L6");
    assert_string_equal(read_codes(f, &pos, 0), "");
}

static void test_state_save_load(void **state)
{
    struct fx *f = *state;
    struct cr_alert_state st, back;
    char p[400];
    fx_path(f, "alert.state", p, sizeof(p));
    assert_int_equal(cr_alert_state_load(p, &back), CR_OK); /* missing: all unknown */
    for (int i = 0; i < CR_ALERT_NFILES; i++)
        assert_int_equal(back.pos[i].known, 0);
    cr_alert_state_init(&st);
    assert_string_equal(st.pos[CR_ALERT_NFILES - 1].name, "nginx-access.log");
    st.pos[1].known = 1;
    st.pos[1].ino = 1234567890123ULL;
    st.pos[1].off = 98765;
    st.pos[1].head_len = 64;
    st.pos[1].head = 0xfedcba9876543210ULL;
    st.pos[6].known = 1;
    assert_int_equal(cr_alert_state_save(p, &st), CR_OK);
    fx_write(f, "alert.state", "a", "bogus.log 1 2 3 4\ngarbage\n");
    assert_int_equal(cr_alert_state_load(p, &back), CR_OK);
    assert_int_equal(back.pos[0].known, 0);
    assert_int_equal(back.pos[1].known, 1);
    assert_true(back.pos[1].ino == 1234567890123ULL);
    assert_int_equal(back.pos[1].off, 98765);
    assert_int_equal(back.pos[1].head_len, 64);
    assert_true(back.pos[1].head == 0xfedcba9876543210ULL);
    assert_string_equal(back.pos[1].name, "concert.log");
    assert_int_equal(back.pos[6].known, 1);
    assert_int_equal(back.pos[6].off, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Whole runs with a fake webhook.                                                            */

struct hook {
    long answer; /* the status the fake webhook answers */
    int calls;
    char *last; /* the last body, malloc'd */
};

static long fake_post(const char *url, const char *body, void *ctx)
{
    struct hook *h = ctx;
    assert_string_equal(url, "http://hook.test/x");
    h->calls++;
    free(h->last);
    h->last = strdup(body);
    return h->answer;
}

static void run(const struct fx *f, struct hook *h, struct cr_alert_summary *sum)
{
    assert_int_equal(cr_alert_run(f->dir, "http://hook.test/x", fake_post, h, sum), CR_OK);
}

static void test_run_posts_once_and_retries(void **state)
{
    struct fx *f = *state;
    struct hook h = {200, 0, NULL};
    struct cr_alert_summary sum;
    char *first = NULL;

    fx_write(f, "queue.log", "a", info_line);
    /* Nothing to say: no post. */
    run(f, &h, &sum);
    assert_int_equal(h.calls, 0);
    assert_int_equal(sum.posted, 0);
    assert_int_equal(sum.lines, 0);

    fx_write(f, "queue.log", "a", line("E1"));
    fx_write(f, "nginx-access.log", "a",
             "{\"time\":\"2026-01-01T00:00:09.000Z\",\"requestId\":\"n1\",\"method\":\"GET\","
             "\"uri\":\"/api/v1/concerts\",\"status\":504,\"group\":\"concert\"}\n");
    h.answer = 500;
    run(f, &h, &sum);
    assert_int_equal(h.calls, 1);
    assert_int_equal(sum.posted, 0);
    assert_int_equal(sum.lines, 2);
    assert_int_equal(sum.groups, 2);
    assert_int_equal(sum.status, 500);
    first = strdup(h.last);
    /* The failed post goes again, the same. */
    h.answer = 200;
    run(f, &h, &sum);
    assert_int_equal(h.calls, 2);
    assert_int_equal(sum.posted, 1);
    assert_string_equal(h.last, first);
    /* ...and only once. */
    run(f, &h, &sum);
    assert_int_equal(h.calls, 2);
    assert_int_equal(sum.posted, 0);
    assert_int_equal(sum.lines, 0);
    /* No answer at all is a failure too. */
    fx_write(f, "expire.log", "a", "{\"holdsReleased\":0}\n");
    fx_write(f, "expire.log", "a",
             "{\"time\":\"t\",\"level\":\"error\",\"group\":\"expire\",\"requestId\":\"\","
             "\"msg\":\"queue maintenance failed\"}\n");
    h.answer = 0;
    run(f, &h, &sum);
    assert_int_equal(h.calls, 3);
    assert_int_equal(sum.posted, 0);
    h.answer = 204;
    run(f, &h, &sum);
    assert_int_equal(h.calls, 4);
    assert_int_equal(sum.posted, 1);
    assert_int_equal(sum.lines, 1);
    char *text = message_text(h.last);
    assert_non_null(strstr(text, "`ERROR` in *expire*: 1,"));
    free(text);
    free(first);
    free(h.last);
}

static void test_run_without_url_does_nothing(void **state)
{
    struct fx *f = *state;
    struct hook h = {200, 0, NULL};
    struct cr_alert_summary sum;
    char p[400];
    fx_write(f, "queue.log", "a", line("E1"));
    assert_int_equal(cr_alert_run(f->dir, "", fake_post, &h, &sum), CR_OK);
    assert_int_equal(h.calls, 0);
    assert_int_equal(sum.lines, 0);
    fx_path(f, "alert.state", p, sizeof(p));
    assert_int_not_equal(access(p, F_OK), 0);
    run(f, &h, &sum);
    assert_int_equal(h.calls, 1);
    free(h.last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_app_failed_request),
        cmocka_unit_test(test_parse_app_error_without_code),
        cmocka_unit_test(test_parse_app_non_alerts),
        cmocka_unit_test(test_parse_nginx),
        cmocka_unit_test(test_group_one_line_per_request),
        cmocka_unit_test(test_message_text),
        cmocka_unit_test(test_message_lists_at_most_30_groups),
        cmocka_unit_test(test_message_holds_no_client_text),
        cmocka_unit_test_setup_teardown(test_read_new_lines_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_waits_for_a_whole_line, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_after_rename_rotation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_after_copytruncate, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_after_truncate_regrown_past_offset, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_truncated_without_copy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_ignores_an_unrelated_old_file, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_stops_at_a_full_batch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_save_load, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_run_posts_once_and_retries, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_run_without_url_does_nothing, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("alert", tests, NULL, NULL);
}
