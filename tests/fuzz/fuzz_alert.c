/* fuzz_alert.c: the alert log parser (cr_alert_parse_line) on every line of the input, read
 * both as a group's JSON log and as nginx's access log, then the one-per-request grouping and
 * the Slack message built from what was found, which must be a JSON object with a "text". */
#include <string.h>

#include <json-c/json.h>

#include "cr_alert.h"
#include "cr_error.h"
#include "cr_fuzz.h"

/* Every text field ends inside its array (the message formatter relies on it). */
static void check_entry(const struct cr_alert_entry *e)
{
    CR_FUZZ_CHECK(strnlen(e->time, sizeof(e->time)) < sizeof(e->time));
    CR_FUZZ_CHECK(strnlen(e->request_id, sizeof(e->request_id)) < sizeof(e->request_id));
    CR_FUZZ_CHECK(strnlen(e->code, sizeof(e->code)) < sizeof(e->code));
    CR_FUZZ_CHECK(strnlen(e->group, sizeof(e->group)) < sizeof(e->group));
    CR_FUZZ_CHECK(strnlen(e->sample, sizeof(e->sample)) < sizeof(e->sample));
    CR_FUZZ_CHECK(e->code[0] != '\0' && e->group[0] != '\0');
    CR_FUZZ_CHECK(e->rank >= 1 && e->rank <= 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cr_alert_batch b;
    const char *p = (const char *)data, *end = p + size;
    cr_alert_batch_init(&b);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* As cr_alert_read hands a line over: NUL-terminated, without its newline. */
        char *line = cr_arena_strndup(cr_fuzz_arena, p, len);
        struct cr_alert_entry e;
        if (cr_alert_parse_line(CR_ALERT_APP, line, len, "queue", &e)) {
            check_entry(&e);
            CR_FUZZ_CHECK(cr_alert_batch_add(&b, &e) == CR_OK);
        }
        if (cr_alert_parse_line(CR_ALERT_NGINX, line, len, "nginx", &e)) {
            check_entry(&e);
            CR_FUZZ_CHECK(e.status >= 500 && strncmp(e.code, "HTTP_", 5) == 0);
            CR_FUZZ_CHECK(cr_alert_batch_add(&b, &e) == CR_OK);
        }
        p += len + (nl != NULL);
    }
    long ngroups = cr_alert_batch_group(&b);
    CR_FUZZ_CHECK(ngroups >= 0 && (size_t)ngroups <= b.n && (ngroups > 0) == (b.n > 0));
    long total = 0;
    for (long i = 0; i < ngroups; i++)
        total += b.groups[i].count;
    CR_FUZZ_CHECK((size_t)total <= b.n);
    if (b.n > 0) {
        char *msg = cr_alert_message(&b);
        CR_FUZZ_CHECK(msg != NULL);
        json_object *o = json_tokener_parse(msg), *text = NULL;
        CR_FUZZ_CHECK(o != NULL && json_object_object_get_ex(o, "text", &text) &&
                      json_object_is_type(text, json_type_string));
        json_object_put(o);
        free(msg);
    }
    cr_alert_batch_cleanup(&b);
    return cr_fuzz_done();
}
