/* cr_log.h: one JSON object per line: time, level, group, request id, message. */
#ifndef CR_LOG_H
#define CR_LOG_H

enum cr_log_level { CR_LOG_DEBUG, CR_LOG_INFO, CR_LOG_WARN, CR_LOG_ERROR };

/* Opens path for appending (NULL or "": stderr) and names the group in every line.
 * level is "debug", "info", "warn" or "error". Call again after log rotation (SIGHUP). */
void cr_log_open(const char *group, const char *path, const char *level);
void cr_log_close(void);
/* The request id written in every following line; NULL clears it. The string is copied. */
void cr_log_set_request(const char *request_id);

void cr_log(enum cr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like cr_log, with extra "key":"value" string pairs, NULL-terminated (e.g. "code", "X"). */
void cr_log_kv(enum cr_log_level level, const char *msg, ...) __attribute__((sentinel));

#define cr_log_debug(...) cr_log(CR_LOG_DEBUG, __VA_ARGS__)
#define cr_log_info(...) cr_log(CR_LOG_INFO, __VA_ARGS__)
#define cr_log_warn(...) cr_log(CR_LOG_WARN, __VA_ARGS__)
#define cr_log_error(...) cr_log(CR_LOG_ERROR, __VA_ARGS__)

#endif
