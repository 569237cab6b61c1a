/* test_text.c: unit tests of strict UTF-8, clean text and JSON-safe escaping (cr_text), and of
 * the log lines built with it (cr_log). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cr_log.h"
#include "cr_text.h"

#define S(lit) (lit), sizeof(lit) - 1

static void test_utf8_accepts(void **state)
{
    (void)state;
    assert_true(cr_utf8_valid(S("")));
    assert_true(cr_utf8_valid(S("plain ascii")));
    assert_true(cr_utf8_valid(S("caf\xc3\xa9")));            /* U+00E9 */
    assert_true(cr_utf8_valid(S("\xe2\x82\xac")));           /* U+20AC */
    assert_true(cr_utf8_valid(S("\xed\x9f\xbf")));           /* U+D7FF, just below surrogates */
    assert_true(cr_utf8_valid(S("\xee\x80\x80")));           /* U+E000, just above */
    assert_true(cr_utf8_valid(S("\xf0\x9f\x8e\xb5")));       /* U+1F3B5 */
    assert_true(cr_utf8_valid(S("\xf4\x8f\xbf\xbf")));       /* U+10FFFF, the last one */
    assert_int_equal(cr_utf8_seq(S("\xf0\x9f\x8e\xb5")), 4);
    assert_int_equal(cr_utf8_seq(S("a")), 1);
}

static void test_utf8_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        const char *why;
    } bad[] = {
        {S("\xff"), "never in UTF-8"},
        {S("\xfe\xff"), "a UTF-16 byte order mark"},
        {S("\x80"), "a lone continuation byte"},
        {S("a\xbf"), "a continuation byte after ASCII"},
        {S("\xc3"), "a truncated two-byte sequence"},
        {S("\xe2\x82"), "a truncated three-byte sequence"},
        {S("\xc3\x28"), "a lead byte followed by ASCII"},
        {S("\xc0\xaf"), "overlong '/'"},
        {S("\xc1\xbf"), "overlong two-byte"},
        {S("\xe0\x80\xaf"), "overlong three-byte"},
        {S("\xf0\x80\x80\xaf"), "overlong four-byte"},
        {S("\xed\xa0\x80"), "an encoded high surrogate U+D800"},
        {S("\xed\xbf\xbf"), "an encoded low surrogate U+DFFF"},
        {S("\xed\xa0\xbd\xed\xb2\xa9"), "CESU-8 surrogate pair"},
        {S("\xf4\x90\x80\x80"), "above U+10FFFF"},
        {S("\xf5\x80\x80\x80"), "a lead byte past 0xf4"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cr_utf8_valid(bad[i].s, bad[i].n))
            fail_msg("accepted %s", bad[i].why);
}

static void test_clean(void **state)
{
    (void)state;
    assert_true(cr_text_clean(S("/api/v1/users/caf\xc3\xa9")));
    assert_true(cr_text_clean(S("a b+c")));
    assert_false(cr_text_clean(S("a\0b")));      /* NUL */
    assert_false(cr_text_clean(S("a\tb")));      /* C0 */
    assert_false(cr_text_clean(S("a\nb")));
    assert_false(cr_text_clean(S("a\x1b[31m"))); /* a terminal escape */
    assert_false(cr_text_clean(S("a\x7f")));     /* DEL */
    assert_false(cr_text_clean(S("\xc2\x85")));  /* U+0085 NEL, a C1 control */
    assert_false(cr_text_clean(S("\xc2\x9b")));  /* U+009B CSI */
    assert_true(cr_text_clean(S("\xc2\xa0")));   /* U+00A0 is a character */
    assert_false(cr_text_clean(S("\xff")));
}

/* Escapes s into a buffer of cap bytes and returns the NUL-terminated result (static). */
static const char *esc(const char *s, size_t cap)
{
    static char buf[256];
    assert_true(cap <= sizeof(buf));
    size_t n = cr_text_json_escape(buf, 0, cap, s);
    assert_true(n < cap);
    buf[n] = '\0';
    return buf;
}

static void test_escape(void **state)
{
    (void)state;
    assert_string_equal(esc("plain", 64), "plain");
    assert_string_equal(esc("a\"b\\c", 64), "a\\\"b\\\\c");
    assert_string_equal(esc("a\nb\x01\x7f", 64), "a\\u000ab\\u0001\\u007f");
    assert_string_equal(esc("\xc2\x85", 64), "\\u0085");
    assert_string_equal(esc("caf\xc3\xa9", 64), "caf\xc3\xa9"); /* valid UTF-8 stays */
    /* Every byte outside a well-formed sequence becomes U+FFFD, never itself. */
    assert_string_equal(esc("a\xff\xfe" "b", 64), "a\\ufffd\\ufffdb");
    assert_string_equal(esc("\xed\xa0\x80", 64), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc("\xe2\x82", 64), "\\ufffd\\ufffd");
    /* Truncation never splits a sequence or an escape. */
    assert_string_equal(esc("ab\xe2\x82\xac", 5), "ab");
    assert_string_equal(esc("ab\xe2\x82\xac", 6), "ab\xe2\x82\xac");
    assert_string_equal(esc("a\n", 7), "a");
    assert_string_equal(esc("a\n", 8), "a\\u000a");
    /* The result is always valid JSON string contents in valid UTF-8. */
    char json[300];
    snprintf(json, sizeof(json), "\"%s\"", esc("x\xff\x01\"\\\xc3\xa9\xf0\x9f", 200));
    assert_true(cr_utf8_valid(json, strlen(json)));
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(o),
                        "x\xef\xbf\xbd\x01\"\\\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
}

/* A log line with client bytes in a value is one valid UTF-8 JSON object without them. */
static void test_log_line_is_clean(void **state)
{
    (void)state;
    char path[] = "/tmp/test_text_log.XXXXXX", line[4096];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cr_log_open("test", path, "info");
    cr_log_set_request("rid-1");
    cr_log_kv(CR_LOG_INFO, "request refused", "path", "/api/\xff\xfe\x01\x1b[2J\xc0\xaf", NULL);
    cr_log_info("fmt %s", "\xed\xa0\x80");
    cr_log_close();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        assert_true(n > 0 && line[n - 1] == '\n');
        assert_true(cr_text_clean(line, n - 1));
        json_object *o = json_tokener_parse(line);
        assert_non_null(o);
        json_object_put(o);
        lines++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(lines, 2);
}

static void test_lld(void **state)
{
    (void)state;
    static const struct {
        long long v;
        const char *want;
    } cases[] = {{0, "0"}, {7, "7"}, {-1, "-1"}, {1234567890123LL, "1234567890123"},
                 {LLONG_MAX, "9223372036854775807"}, {LLONG_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[CR_LLD_LEN], out[CR_LLD_LEN + 1];
        const char *p = cr_text_lld(buf, cases[i].v);
        size_t n = (size_t)(buf + CR_LLD_LEN - p);
        memcpy(out, p, n);
        out[n] = '\0';
        assert_string_equal(out, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_accepts),
        cmocka_unit_test(test_utf8_rejects),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_log_line_is_clean),
        cmocka_unit_test(test_lld),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
