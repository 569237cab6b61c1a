/* cr_time.h: wall-clock milliseconds and RFC 3339 UTC formatting. */
#ifndef CR_TIME_H
#define CR_TIME_H

#include <stdint.h>

#define CR_TIME_LEN 25 /* "2026-12-24T19:00:00.000Z" plus the terminating NUL */

/* Milliseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t cr_time_now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC, for measuring durations. */
int64_t cr_time_mono_ms(void);
/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (CR_TIME_LEN bytes); returns buf. */
char *cr_time_format(int64_t ms, char *buf);
/* Parses that exact format back; returns CR_OK or CR_E_INVALID. */
int cr_time_parse(const char *s, int64_t *ms);
/* Milliseconds since the epoch of a UTC date and time (month 1-12, day 1-31), by arithmetic
 * alone (no time-zone lookup as in timegm()). */
int64_t cr_time_civil_ms(int year, int month, int day, int hour, int min, int sec, int msec);

#endif
