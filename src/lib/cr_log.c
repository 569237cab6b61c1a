/* cr_log.c: JSON-lines logging; each line is written with one write(2) so lines from
 * several processes appending to one file never interleave. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cr_log.h"
#include "cr_text.h"
#include "cr_time.h"

static int cr_log_fd = 2;
static enum cr_log_level cr_log_min = CR_LOG_INFO;
static char cr_log_group[32] = "-";
static char cr_log_reqid[72] = "";

static const char *const cr_level_names[] = {"debug", "info", "warn", "error"};

void cr_log_open(const char *group, const char *path, const char *level)
{
    cr_log_close();
    snprintf(cr_log_group, sizeof(cr_log_group), "%s", group ? group : "-");
    if (path != NULL && *path != '\0') {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd >= 0)
            cr_log_fd = fd;
    }
    cr_log_min = CR_LOG_INFO;
    for (int i = 0; level != NULL && i < 4; i++)
        if (strcmp(level, cr_level_names[i]) == 0)
            cr_log_min = (enum cr_log_level)i;
}

void cr_log_close(void)
{
    if (cr_log_fd > 2)
        close(cr_log_fd);
    cr_log_fd = 2;
}

void cr_log_set_request(const char *request_id)
{
    snprintf(cr_log_reqid, sizeof(cr_log_reqid), "%s", request_id ? request_id : "");
}

static size_t cr_log_append(char *buf, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (pos + n >= cap)
        n = cap - pos - 1;
    memcpy(buf + pos, s, n);
    return pos + n;
}

/* Every string goes through cr_text_json_escape: values may carry client text (a path), and
 * each line must stay valid UTF-8 JSON without a raw byte the client chose. */
static void cr_log_write(enum cr_log_level level, const char *msg, va_list *kv)
{
    char buf[4096], ts[CR_TIME_LEN];
    size_t cap = sizeof(buf) - 2, pos = 0;
    pos = cr_log_append(buf, pos, cap, "{\"time\":\"");
    pos = cr_log_append(buf, pos, cap, cr_time_format(cr_time_now_ms(), ts));
    pos = cr_log_append(buf, pos, cap, "\",\"level\":\"");
    pos = cr_log_append(buf, pos, cap, cr_level_names[level]);
    pos = cr_log_append(buf, pos, cap, "\",\"group\":\"");
    pos = cr_text_json_escape(buf, pos, cap, cr_log_group);
    pos = cr_log_append(buf, pos, cap, "\",\"requestId\":\"");
    pos = cr_text_json_escape(buf, pos, cap, cr_log_reqid);
    pos = cr_log_append(buf, pos, cap, "\",\"msg\":\"");
    pos = cr_text_json_escape(buf, pos, cap, msg);
    pos = cr_log_append(buf, pos, cap, "\"");
    if (kv != NULL) {
        const char *k;
        while ((k = va_arg(*kv, const char *)) != NULL) {
            const char *v = va_arg(*kv, const char *);
            pos = cr_log_append(buf, pos, cap, ",\"");
            pos = cr_text_json_escape(buf, pos, cap, k);
            pos = cr_log_append(buf, pos, cap, "\":\"");
            pos = cr_text_json_escape(buf, pos, cap, v ? v : "");
            pos = cr_log_append(buf, pos, cap, "\"");
        }
    }
    buf[pos++] = '}';
    buf[pos++] = '\n';
    ssize_t w = write(cr_log_fd, buf, pos);
    (void)w;
}

void cr_log(enum cr_log_level level, const char *fmt, ...)
{
    if (level < cr_log_min)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cr_log_write(level, msg, NULL);
}

void cr_log_kv(enum cr_log_level level, const char *msg, ...)
{
    if (level < cr_log_min)
        return;
    va_list ap;
    va_start(ap, msg);
    cr_log_write(level, msg, &ap);
    va_end(ap);
}
