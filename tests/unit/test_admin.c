/* test_admin.c: unit tests of concert-admin's parsing: times, ids, seats, prices by range and
 * from a CSV, titles, and the schedule checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cr_admin.h"
#include "cr_error.h"
#include "cr_time.h"

static char err[512];

#define NOW 1798110000000LL /* 2026-12-24T00:20:00.000Z */

static void test_time_rfc3339(void **state)
{
    (void)state;
    long long ms = 0;
    static const struct {
        const char *in;
        const char *utc;
    } ok[] = {
        {"2026-12-24T19:00:00.000Z", "2026-12-24T19:00:00.000Z"},
        {"2026-12-24T19:00:00Z", "2026-12-24T19:00:00.000Z"},
        {"2026-12-24T19:00Z", "2026-12-24T19:00:00.000Z"},
        {"2026-12-24T19:00:00.5Z", "2026-12-24T19:00:00.500Z"},
        {"2026-12-24T19:00:00.25Z", "2026-12-24T19:00:00.250Z"},
        {"2026-12-25T04:00+09:00", "2026-12-24T19:00:00.000Z"},
        {"2026-12-24T14:30:00-04:30", "2026-12-24T19:00:00.000Z"},
        {"2028-02-29T00:00:00+00:00", "2028-02-29T00:00:00.000Z"},
        {"2027-01-01T08:59:59.999+09:00", "2026-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char buf[CR_TIME_LEN];
        assert_int_equal(cr_admin_parse_time(ok[i].in, NOW, &ms, err, sizeof(err)), CR_OK);
        assert_string_equal(cr_time_format(ms, buf), ok[i].utc);
    }
}

static void test_time_now(void **state)
{
    (void)state;
    long long ms = 0;
    assert_int_equal(cr_admin_parse_time("now", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW);
    assert_int_equal(cr_admin_parse_time("now+5m", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW + 300000);
    assert_int_equal(cr_admin_parse_time("now-1h", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW - 3600000);
    assert_int_equal(cr_admin_parse_time("now+2500ms", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW + 2500);
    assert_int_equal(cr_admin_parse_time("now+30d", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW + 30 * 86400000LL);
    assert_int_equal(cr_admin_parse_time("now+2s", NOW, &ms, err, sizeof(err)), CR_OK);
    assert_int_equal(ms, NOW + 2000);
}

static void test_time_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "tomorrow",
        "2026-12-24",                /* no time */
        "2026-12-24T19:00:00",       /* no zone: ambiguous */
        "2026-12-24 19:00:00Z",      /* a space for T */
        "2026-13-01T00:00Z",         /* month 13 */
        "2026-02-29T00:00Z",         /* not a leap year */
        "2026-04-31T00:00Z",         /* April has 30 days */
        "2026-12-24T24:00Z",         /* hour 24 */
        "2026-12-24T19:60Z",         /* minute 60 */
        "2026-12-24T19:00:60Z",      /* second 60 */
        "2026-12-24T19:00:00.1234Z", /* 4 fraction digits */
        "2026-12-24T19:00:00.Z",     /* empty fraction */
        "2026-12-24T19:00+0900",     /* offset without colon */
        "2026-12-24T19:00+24:00",    /* offset hour 24 */
        "2026-12-24T19:00Zjunk",
        "+2026-12-24T19:00Z",
        "now+",
        "now+5",      /* no unit */
        "now+5y",     /* unknown unit */
        "now*5m",
        "now+-5m",
        "now +5m",
        "now+99999999999999999999s",
        "now+5000d",  /* more than ten years */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long ms = 42;
        err[0] = '\0';
        if (cr_admin_parse_time(bad[i], NOW, &ms, err, sizeof(err)) != CR_E_INVALID)
            fail_msg("accepted time '%s'", bad[i]);
        assert_int_equal(ms, 42);
        assert_non_null(strstr(err, "RFC 3339"));
    }
}

static void test_ids_and_seats(void **state)
{
    (void)state;
    long long id = 0;
    int n = 0;
    assert_int_equal(cr_admin_parse_id("17", &id, err, sizeof(err)), CR_OK);
    assert_int_equal(id, 17);
    static const char *const bad_ids[] = {"0", "-1", "", "1x", " 1", "+1", "1.0",
                                          "9999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
        assert_int_equal(cr_admin_parse_id(bad_ids[i], &id, err, sizeof(err)), CR_E_INVALID);

    assert_int_equal(cr_admin_parse_seats("1", &n, err, sizeof(err)), CR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cr_admin_parse_seats("10000", &n, err, sizeof(err)), CR_OK);
    assert_int_equal(n, 10000);
    static const char *const bad_seats[] = {"0", "10001", "-5", "", "50 ", "1e3", "100000000000"};
    for (size_t i = 0; i < sizeof(bad_seats) / sizeof(bad_seats[0]); i++) {
        assert_int_equal(cr_admin_parse_seats(bad_seats[i], &n, err, sizeof(err)), CR_E_INVALID);
        assert_non_null(strstr(err, "1 to 10000"));
    }
}

static void test_price(void **state)
{
    (void)state;
    long long p = 0;
    assert_int_equal(cr_admin_parse_price("1", &p, err, sizeof(err)), CR_OK);
    assert_int_equal(p, 1);
    assert_int_equal(cr_admin_parse_price("1000000000", &p, err, sizeof(err)), CR_OK);
    assert_int_equal(p, CR_ADMIN_PRICE_MAX);
    assert_int_equal(cr_admin_parse_price("0", &p, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_parse_price("-5000", &p, err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "above 0"));
    assert_int_equal(cr_admin_parse_price("1000000001", &p, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_parse_price("5000.0", &p, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_parse_price("", &p, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_parse_price("abc", &p, err, sizeof(err)), CR_E_INVALID);
}

static void test_prices_ranges(void **state)
{
    (void)state;
    long long prices[50];
    assert_int_equal(cr_admin_parse_prices("1-10:5000,11-50:3000", 50, prices, err, sizeof(err)),
                     CR_OK);
    for (int i = 0; i < 50; i++)
        assert_int_equal(prices[i], i < 10 ? 5000 : 3000);
    /* Single seats, any order, blanks around the pieces. */
    assert_int_equal(cr_admin_parse_prices(" 3:30 , 1-2 : 10,4-5:50 ", 5, prices, err,
                                           sizeof(err)),
                     CR_OK);
    assert_int_equal(prices[0], 10);
    assert_int_equal(prices[1], 10);
    assert_int_equal(prices[2], 30);
    assert_int_equal(prices[4], 50);
    assert_int_equal(cr_admin_parse_prices("1-1:7", 1, prices, err, sizeof(err)), CR_OK);
    assert_int_equal(prices[0], 7);

    static const struct {
        const char *spec;
        const char *msg;
    } bad[] = {
        {"1-10:5000", "seat 11 has no price"},
        {"1-10:5000,10-50:3000", "seat 10 is priced twice"},
        {"1-51:5000", "seat 51 is outside 1..50"},
        {"0-50:5000", "seat 0 is outside 1..50"},
        {"10-1:5000", "is empty"},
        {"1-50:0", "a price is from 1"},
        {"1-50:-3000", "above 0"},
        {"1-50:1000000001", "a price is from 1"},
        {"1-50", "expected FIRST-LAST:PRICE"},
        {"1-50:", "whole number"},
        {"", "expected FIRST-LAST:PRICE"},
        {"1-50:5000,", "expected FIRST-LAST:PRICE"},
        {"1-50:5000;", "expected FIRST-LAST:PRICE"},
        {"a-b:1", "expected FIRST-LAST:PRICE"},
        {"1-25:5000,,26-50:1", "expected FIRST-LAST:PRICE"},
        {"1-50:5000.5", "expected FIRST-LAST:PRICE"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (cr_admin_parse_prices(bad[i].spec, 50, prices, err, sizeof(err)) != CR_E_INVALID)
            fail_msg("accepted prices '%s'", bad[i].spec);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("prices '%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
    }
}

/* Parses text as a CSV for nseats seats; returns the result, the line in *line. */
static int csv(const char *text, int nseats, long long *prices, int *line)
{
    err[0] = '\0';
    return cr_admin_parse_prices_csv(text, strlen(text), nseats, prices, line, err, sizeof(err));
}

static void test_prices_csv(void **state)
{
    (void)state;
    long long prices[4];
    int line = -1;
    assert_int_equal(csv("1,100\n2,200\n3,300\n4,400\n", 4, prices, &line), CR_OK);
    assert_int_equal(line, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(prices[i], 100 * (i + 1));
    /* A header, CRLF, blanks, blank lines, any order, no final newline. */
    assert_int_equal(
        csv("SeatNo , Price\r\n\r\n 4 , 40 \r\n3,30\n\n1,10\n2,\t20", 4, prices, &line), CR_OK);
    assert_int_equal(prices[0], 10);
    assert_int_equal(prices[3], 40);
    assert_int_equal(csv("seatNo,price\n1,1\n2,2\n3,3\n4,4\n", 4, prices, &line), CR_OK);

    static const struct {
        const char *text;
        int line;
        const char *msg;
    } bad[] = {
        {"1,100\n2,200\n3,3x0\n4,400\n", 3, "line 3: expected seatNo,price"},
        {"1,100\n2;200\n", 2, "line 2: expected seatNo,price"},
        {"1,100\n\n\n2,200,5\n", 4, "line 4: expected seatNo,price"},
        {"1,100\n2,0\n", 2, "line 2: price 0"},
        {"1,100\n2,-200\n", 2, "line 2: a price must be above 0"},
        {"1,100\n5,200\n", 2, "line 2: seat 5 is outside 1..4"},
        {"1,100\n0,200\n", 2, "line 2: seat 0 is outside 1..4"},
        {"1,100\n2,200\n1,300\n", 3, "line 3: seat 1 is priced twice"},
        {"seatNo,price\nseatNo,price\n", 2, "line 2: expected"},
        {"1,100\n2,200\n", 0, "seat 3 has no price"},
        {"", 0, "seat 1 has no price"},
        {"1,100\n2,200\n3,300\n4,400\nx\n", 5, "line 5: expected"},
        {"1,10\n2,20\n3,30\n4,40.5\n", 4, "line 4: expected"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        line = -1;
        if (csv(bad[i].text, 4, prices, &line) != CR_E_INVALID)
            fail_msg("accepted CSV #%zu", i);
        if (line != bad[i].line || strstr(err, bad[i].msg) == NULL)
            fail_msg("CSV #%zu: line %d, message '%s'; wanted line %d, '%s'", i, line, err,
                     bad[i].line, bad[i].msg);
    }
    /* A NUL byte inside a line does not parse (the text is taken by length). */
    static const char nul[] = "1,10\n2,2\0" "0\n3,30\n4,40\n";
    line = -1;
    assert_int_equal(cr_admin_parse_prices_csv(nul, sizeof(nul) - 1, 4, prices, &line, err,
                                               sizeof(err)),
                     CR_E_INVALID);
    assert_int_equal(line, 2);
}

static void test_text(void **state)
{
    (void)state;
    char long_title[CR_ADMIN_TEXT_MAX * 3 + 2];
    assert_int_equal(cr_admin_check_text("the title", "Beethoven No. 9", err, sizeof(err)), CR_OK);
    /* 200 characters of Hangul (600 bytes) are fine; one more is not. */
    long_title[0] = '\0';
    for (int i = 0; i < CR_ADMIN_TEXT_MAX; i++)
        strcat(long_title, "\xea\xb0\x80"); /* U+AC00 */
    assert_int_equal(cr_admin_check_text("the title", long_title, err, sizeof(err)), CR_OK);
    strcat(long_title, "a");
    assert_int_equal(cr_admin_check_text("the title", long_title, err, sizeof(err)),
                     CR_E_INVALID);
    assert_non_null(strstr(err, "over 200"));
    assert_int_equal(cr_admin_check_text("the venue", "", err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "the venue must not be empty"));
    assert_int_equal(cr_admin_check_text("the venue", "   ", err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_check_text("the title", "a\nb", err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_admin_check_text("the title", "a\xff", err, sizeof(err)), CR_E_INVALID);
}

static void test_schedule_checks(void **state)
{
    (void)state;
    long long day = 86400000;
    assert_int_equal(cr_admin_check_schedule(NOW + day, NOW, NOW, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_admin_check_schedule(NOW + day, NOW - day, NOW, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_admin_check_schedule(NOW + day, NOW + day, NOW, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_admin_check_schedule(NOW - 1, NOW - day, NOW, err, sizeof(err)),
                     CR_E_INVALID);
    assert_non_null(strstr(err, "in the past"));
    assert_int_equal(cr_admin_check_schedule(NOW, NOW - day, NOW, err, sizeof(err)),
                     CR_E_INVALID);
    assert_int_equal(cr_admin_check_schedule(NOW + day, NOW + day + 1, NOW, err, sizeof(err)),
                     CR_E_INVALID);
    assert_non_null(strstr(err, "after the start"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_rfc3339), cmocka_unit_test(test_time_now),
        cmocka_unit_test(test_time_bad),     cmocka_unit_test(test_ids_and_seats),
        cmocka_unit_test(test_price),        cmocka_unit_test(test_prices_ranges),
        cmocka_unit_test(test_prices_csv),   cmocka_unit_test(test_text),
        cmocka_unit_test(test_schedule_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
