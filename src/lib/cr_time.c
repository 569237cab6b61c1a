/* cr_time.c: RFC 3339 with milliseconds, always UTC, without locale or TZ dependence. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cr_error.h"
#include "cr_time.h"

int64_t cr_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cr_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *cr_time_format(int64_t ms, char *buf)
{
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[96]; /* wide enough for any int, so the compiler can prove no truncation */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
    memcpy(buf, tmp, CR_TIME_LEN - 1); /* years 0..9999: always 24 characters */
    buf[CR_TIME_LEN - 1] = '\0';
    return buf;
}

int cr_time_parse(const char *s, int64_t *ms)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct tm tm;
    int msec;
    memset(&tm, 0, sizeof(tm));
    /* Check the shape first: sscanf's %d would take signs and spaces. */
    if (strlen(s) != CR_TIME_LEN - 1)
        return CR_E_INVALID;
    for (int i = 0; i < CR_TIME_LEN - 1; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return CR_E_INVALID;
    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
           &tm.tm_min, &tm.tm_sec, &msec);
    int leap = (tm.tm_year % 4 == 0 && tm.tm_year % 100 != 0) || tm.tm_year % 400 == 0;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > mdays[tm.tm_mon - 1] + (tm.tm_mon == 2 && leap) || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 59)
        return CR_E_INVALID;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (int64_t)timegm(&tm) * 1000 + msec;
    return CR_OK;
}
