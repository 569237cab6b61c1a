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

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar, and back (H. Hinnant's
 * days_from_civil / civil_from_days): plain arithmetic, where timegm() and gmtime_r() go
 * through the time-zone machinery; a seat map converts 50 DATETIMEs (bench/RESULTS.md). */
static int64_t cr_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void cr_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t cr_time_civil_ms(int year, int month, int day, int hour, int min, int sec, int msec)
{
    return ((cr_days_from_civil(year, month, day) * 24 + hour) * 60 + min) * 60000 +
           (int64_t)sec * 1000 + msec;
}

static char *cr_time_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

char *cr_time_format(int64_t ms, char *buf)
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    int64_t in_day = ms - days * 86400000, y;
    int m, d;
    cr_civil_from_days(days, &y, &m, &d);
    if (y < 0)
        y = 0; /* outside years 0..9999 the text is not RFC 3339 anyway; keep it 24 bytes */
    char *p = cr_time_digits(buf, y % 10000, 4);
    *p++ = '-';
    p = cr_time_digits(p, m, 2);
    *p++ = '-';
    p = cr_time_digits(p, d, 2);
    *p++ = 'T';
    p = cr_time_digits(p, in_day / 3600000, 2);
    *p++ = ':';
    p = cr_time_digits(p, in_day / 60000 % 60, 2);
    *p++ = ':';
    p = cr_time_digits(p, in_day / 1000 % 60, 2);
    *p++ = '.';
    p = cr_time_digits(p, in_day % 1000, 3);
    *p++ = 'Z';
    *p = '\0';
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
    *ms = cr_time_civil_ms(tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                           msec);
    return CR_OK;
}
