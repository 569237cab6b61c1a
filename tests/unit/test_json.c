/* test_json.c: unit tests of strict body parsing and typed field access. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_error.h"
#include "cr_json.h"
#include "cr_uuid.h"

struct json_fixture {
    struct cr_req req;
};

static int setup(void **state)
{
    static struct json_fixture f;
    memset(&f, 0, sizeof(f));
    f.req.arena = cr_arena_new();
    if (f.req.arena == NULL)
        return -1;
    f.req.content_length = -1;
    f.req.body = "";
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct json_fixture *f = *state;
    cr_arena_free(f->req.arena);
    return 0;
}

static void put_cb(void *p)
{
    json_object_put(p);
}

/* cr_json_parse of a NUL-terminated string; CR_OK or the error. */
static int parse_str(const char *text)
{
    json_object *o = (json_object *)1;
    int rc = cr_json_parse(text, strlen(text), &o);
    if (rc == CR_OK)
        assert_non_null(o);
    else
        assert_null(o);
    json_object_put(o);
    return rc;
}

/* Parses text, which must be valid, into an object owned by the fixture's arena. */
static json_object *parse_ok(struct json_fixture *f, const char *text)
{
    json_object *o = NULL;
    assert_int_equal(cr_json_parse(text, strlen(text), &o), CR_OK);
    cr_arena_cleanup(f->req.arena, put_cb, o);
    return o;
}

/* cr_json_int of key "amount" in text with [min, max]; *out is -42 unless it succeeded. */
static int amount_of(struct json_fixture *f, const char *text, long long min, long long max,
                     long long *out)
{
    json_object *o = parse_ok(f, text);
    f->req.errmsg = NULL;
    *out = -42;
    int rc = cr_json_int(&f->req, o, "amount", min, max, out);
    if (rc != CR_OK) {
        assert_int_equal(*out, -42);
        assert_non_null(f->req.errmsg);
        assert_non_null(strstr(f->req.errmsg, "amount"));
    }
    return rc;
}

/* A JSON object of exactly len bytes: {"a":"xxx...x"} */
static char *object_of_len(size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, "{\"a\":\"", 6);
    memset(s + 6, 'x', len - 8);
    memcpy(s + len - 2, "\"}", 3);
    assert_int_equal(strlen(s), len);
    return s;
}

/* ---- cr_json_parse ------------------------------------------------------ */

static void test_parse_accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}",
        "[]",
        "{\"a\":1}",
        "[1,2,3]",
        " \t\r\n{\"a\": {\"b\": [true, false, null, \"x\", -1.5e3]}} \r\n\t",
        "{\"reservationIds\":[\"0190f5e2-0000-7000-8000-000000000000\"]}",
        "{\"s\":\"quote \\\" backslash \\\\ unicode \\u00e9 \\ud83d\\ude00\"}",
        "{\"a\":1}\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_object *o = NULL;
        assert_int_equal(cr_json_parse(ok[i], strlen(ok[i]), &o), CR_OK);
        assert_non_null(o);
        assert_true(json_object_is_type(o, json_type_object) ||
                    json_object_is_type(o, json_type_array));
        json_object_put(o);
    }
}

static void test_parse_rejects_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{} x",        "{}{}",         "{\"a\":1}}",     "[1] [2]",   "{\"a\":1},",
        "{",           "{\"a\":",      "{\"a\":1",       "[1,2",      "{\"a\":1,}",
        "[1,]",        "{a:1}",        "{\"a\":01}",     "{\"a\":+1}", "{\"a\":.5}",
        "{\"a\":tru}", "{\"a\":True}", "{\"a\" 1}",      "x",         "\xef\xbb\xbf{}",
        "{\"a\":\"x}", "}",            "{\"a\":1}\x0b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_parse_rejects_single_quotes(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\":'x'}", "['x']", "{'a':1}", "{'a':'x'}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    }
    /* A single quote inside a string is fine. */
    assert_int_equal(parse_str("{\"a\":\"it's\"}"), CR_OK);
}

static void test_parse_rejects_comments(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\":1 /* c */}", "/* c */{}", "// c\n{}",
                                      "{\"a\":1} // c", "{\"a\":1}\n# c", "{} /**/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_parse_rejects_nul(void **state)
{
    (void)state;
    json_object *o = NULL;
    static const char trailing[] = "{\"a\":1}\0";
    static const char inside[] = "{\"a\":\"x\0y\"}";
    static const char leading[] = "\0{}";
    assert_int_equal(cr_json_parse(trailing, sizeof(trailing) - 1, &o), CR_E_INVALID);
    assert_null(o);
    assert_int_equal(cr_json_parse(inside, sizeof(inside) - 1, &o), CR_E_INVALID);
    assert_null(o);
    assert_int_equal(cr_json_parse(leading, sizeof(leading) - 1, &o), CR_E_INVALID);
    assert_null(o);
    /* len counts: the same text without the NUL parses. */
    assert_int_equal(cr_json_parse(trailing, sizeof(trailing) - 2, &o), CR_OK);
    json_object_put(o);
}

static void test_parse_rejects_empty(void **state)
{
    (void)state;
    json_object *o = (json_object *)1;
    assert_int_equal(cr_json_parse("", 0, &o), CR_E_INVALID);
    assert_null(o);
    assert_int_equal(parse_str(" "), CR_E_INVALID);
    assert_int_equal(parse_str("\n\t "), CR_E_INVALID);
    /* len 0 wins over whatever the pointer holds */
    assert_int_equal(cr_json_parse("{}", 0, &o), CR_E_INVALID);
}

/* A scalar that ends the text is a whole JSON text (found by tests/fuzz/fuzz_json: "2" was
 * refused while "2 " passed, since json-c waits for more digits until told the input ended). */
static void test_parse_number_at_end(void **state)
{
    (void)state;
    static const char *const ok[] = {"2", "-0.5e3", "0", "true", "\"x\"", " 7"};
    static const char *const bad[] = {"-", "1e", "2x", "[2", "01", "{\"a\":2"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (parse_str(ok[i]) != CR_OK)
            fail_msg("refused: %s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    /* The length is the end, whatever follows in memory. */
    json_object *o = NULL;
    assert_int_equal(cr_json_parse("123", 2, &o), CR_OK);
    assert_int_equal(json_object_get_int64(o), 12);
    json_object_put(o);
}

static void test_parse_size_limit(void **state)
{
    (void)state;
    json_object *o = NULL;
    char *at = object_of_len(CR_BODY_MAX);
    char *over = object_of_len(CR_BODY_MAX + 1);
    assert_int_equal(cr_json_parse(at, strlen(at), &o), CR_OK);
    assert_int_equal(json_object_get_string_len(json_object_object_get(o, "a")), CR_BODY_MAX - 8);
    json_object_put(o);
    assert_int_equal(cr_json_parse(over, strlen(over), &o), CR_E_INVALID);
    assert_null(o);
    /* Whitespace counts too. */
    memset(at, ' ', CR_BODY_MAX);
    memcpy(at, "{}", 2);
    assert_int_equal(cr_json_parse(at, CR_BODY_MAX, &o), CR_OK);
    json_object_put(o);
    char *ws = malloc(CR_BODY_MAX + 2);
    assert_non_null(ws);
    memset(ws, ' ', CR_BODY_MAX + 1);
    memcpy(ws, "{}", 2);
    assert_int_equal(cr_json_parse(ws, CR_BODY_MAX + 1, &o), CR_E_INVALID);
    free(ws);
    free(at);
    free(over);
}

static void test_parse_depth(void **state)
{
    (void)state;
    char deep[2001];
    json_object *o = NULL;
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    assert_int_equal(cr_json_parse(deep, 2000, &o), CR_E_INVALID);
    assert_null(o);
    assert_int_equal(cr_json_parse(deep + 990, 20, &o), CR_OK); /* 10 levels */
    json_object_put(o);
}

/* A NUL written as an escape would end every C string json-c hands out early: the uuid
 * "<uuid>\u0000garbage" read as the uuid alone. */
static void test_parse_rejects_escaped_nul(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"userId\":\"0190f5e2-abcd-7ef0-8123-456789abcdef\\u0000garbage\"}",
        "{\"a\\u0000b\":1}",
        "[\"\\u0000\"]",
        "{\"a\":{\"b\":[\"x\\u0000\"]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    /* Other escaped controls are characters like any other. */
    assert_int_equal(parse_str("{\"a\":\"\\u0001\\n\"}"), CR_OK);
}

static void test_parse_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"a\":\"\xff\"}",         "{\"a\":\"x\xfe\"}",         "{\"\xc3\":1}",
        "{\"a\":\"\xc0\xaf\"}",     "{\"a\":\"\xed\xa0\x80\"}",  "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe2\x82\"}",     "{\"a\":\"\x80\"}",          "[\"ok\",\"\xe9t\xe9\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted case %zu", i);
    assert_int_equal(parse_str("{\"a\":\"caf\xc3\xa9 \xf0\x9f\x8e\xb5\"}"), CR_OK);
}

static void test_parse_rejects_lone_surrogates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"a\":\"\\ud800\"}",        "{\"a\":\"\\ud800x\"}",       "{\"a\":\"\\uDBFF\\u0041\"}",
        "{\"a\":\"\\udc00\"}",        "{\"a\":\"\\udc00\\ud800\"}", "{\"a\":\"\\ud800\\ud800\"}",
        "{\"a\":\"\\ud800\\n\"}",     "{\"\\ud800\":1}",            "{\"a\":\"\\ud800\\",
        "{\"a\":\"\\ud800\\udc0\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    /* A proper pair is one character: U+1F3B5. */
    json_object *o = NULL;
    const char *pair = "{\"a\":\"\\ud83c\\udfb5\"}";
    assert_int_equal(cr_json_parse(pair, strlen(pair), &o), CR_OK);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "a")), "\xf0\x9f\x8e\xb5");
    json_object_put(o);
}

static void test_parse_rejects_bad_escapes(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}",
                                      "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\'\"}", "{\"a\":\"\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
}

/* json-c keeps the last of a repeated key: {"amount":20000000,"amount":1} charged 1. */
static void test_parse_rejects_duplicate_keys(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"amount\":20000000,\"amount\":1}",
        "{\"a\":1,\"b\":2,\"a\":1}",
        "{\"a\":1,\"\\u0061\":2}", /* the same key, escaped */
        "{\"x\":{\"b\":1,\"b\":2}}",
        "{\"x\":[{\"y\":1},{\"z\":{},\"z\":{}}]}",
        "[{\"a\":1},{\"b\":[[{\"c\":1,\"c\":1}]]}]",
        "{\"a\":{\"k\":1},\"b\":{\"k\":1},\"c\":{\"d\":0,\"e\":0,\"d\":0}}",
        "{\"a\":{},\"a\":{\"q\":1}}",
        "{\"r\":[\"0190f5e2-0000-7000-8000-000000000000\"],\"r\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_str(bad[i]) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    static const char *const ok[] = {
        "{\"a\":{\"a\":{\"a\":1}}}",           "[{\"a\":1},{\"a\":1}]",
        "{\"a\":{\"k\":1},\"b\":{\"k\":1}}",
        "{\"a\":\"a:b\",\"b\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}",
        "{\"A\":1,\"a\":2,\"a \":3}",          "{\"\":1,\"x\":[{},{},{\"\":2}]}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (parse_str(ok[i]) != CR_OK)
            fail_msg("refused: %s", ok[i]);
}

/* 10,000 nested arrays or objects: refused by the scanner, quickly and without recursion. */
static void test_parse_very_deep(void **state)
{
    (void)state;
    const size_t n = 10000;
    char *deep = malloc(2 * n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(parse_str(deep), CR_E_INVALID);
    memset(deep, '{', n); /* unbalanced and deep */
    assert_int_equal(parse_str(deep), CR_E_INVALID);
    free(deep);
    char *objs = malloc(6 * 2000 + 2);
    assert_non_null(objs);
    size_t p = 0;
    for (int i = 0; i < 2000; i++)
        p += (size_t)sprintf(objs + p, "{\"a\":");
    objs[p++] = '1';
    memset(objs + p, '}', 2000);
    objs[p + 2000] = '\0';
    assert_int_equal(parse_str(objs), CR_E_INVALID);
    free(objs);
    /* 20 levels are fine. */
    char ok[42];
    memset(ok, '[', 20);
    ok[20] = '1';
    memset(ok + 21, ']', 20);
    ok[41] = '\0';
    assert_int_equal(parse_str(ok), CR_OK);
}

/* ---- cr_json_int -------------------------------------------------------- */

static void test_int_accepts(void **state)
{
    struct json_fixture *f = *state;
    long long v;
    assert_int_equal(amount_of(f, "{\"amount\":1}", 1, 10000000, &v), CR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(amount_of(f, "{\"amount\":10000000}", 1, 10000000, &v), CR_OK);
    assert_int_equal(v, 10000000);
    assert_int_equal(amount_of(f, "{\"amount\": 10000 , \"other\": 1.5}", 1, 10000000, &v), CR_OK);
    assert_int_equal(v, 10000);
    assert_int_equal(amount_of(f, "{\"amount\":-5}", -10, 10, &v), CR_OK);
    assert_int_equal(v, -5);
    assert_int_equal(amount_of(f, "{\"amount\":0}", 0, 0, &v), CR_OK);
    assert_int_equal(v, 0);
    /* The ends of int64 */
    assert_int_equal(amount_of(f, "{\"amount\":9223372036854775807}", 1, INT64_MAX, &v), CR_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(amount_of(f, "{\"amount\":-9223372036854775808}", INT64_MIN, 0, &v), CR_OK);
    assert_true(v == INT64_MIN);
}

static void test_int_rejects(void **state)
{
    struct json_fixture *f = *state;
    static const char *const bad[] = {
        "{\"amount\":1000.0}",
        "{\"amount\":1e3}",
        "{\"amount\":1E3}",
        "{\"amount\":1e+3}",
        "{\"amount\":-0.5}",
        "{\"amount\":\"1000\"}",
        "{\"amount\":true}",
        "{\"amount\":false}",
        "{\"amount\":null}",
        "{\"amount\":[1000]}",
        "{\"amount\":{\"v\":1000}}",
        "{\"other\":1000}",
        "{\"Amount\":1000}",
        "{\"amount\":0}",
        "{\"amount\":-1}",
        "{\"amount\":10000001}",
        "{\"amount\":99999999999999999999}",
        "{\"amount\":18446744073709551615}",
        "{\"amount\":9223372036854775808}",
        "{\"amount\":-99999999999999999999}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long v;
        if (amount_of(f, bad[i], 1, 10000000, &v) != CR_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_int_beyond_int64_with_full_range(void **state)
{
    struct json_fixture *f = *state;
    long long v;
    /* Even with the widest range, a value json-c keeps as uint64 is out of range. */
    assert_int_equal(amount_of(f, "{\"amount\":18446744073709551615}", INT64_MIN, INT64_MAX, &v),
                     CR_E_INVALID);
    assert_int_equal(amount_of(f, "{\"amount\":99999999999999999999}", INT64_MIN, INT64_MAX, &v),
                     CR_E_INVALID);
    assert_int_equal(amount_of(f, "{\"amount\":9223372036854775808}", INT64_MIN, INT64_MAX, &v),
                     CR_E_INVALID);
}

static void test_int_messages(void **state)
{
    struct json_fixture *f = *state;
    long long v;
    assert_int_equal(amount_of(f, "{}", 1, 10, &v), CR_E_INVALID);
    assert_string_equal(f->req.errmsg, "amount is required");
    assert_int_equal(amount_of(f, "{\"amount\":\"5\"}", 1, 10, &v), CR_E_INVALID);
    assert_string_equal(f->req.errmsg, "amount must be an integer");
    assert_int_equal(amount_of(f, "{\"amount\":11}", 1, 10, &v), CR_E_INVALID);
    assert_string_equal(f->req.errmsg, "amount must be from 1 to 10");
}

static void test_is_int(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = parse_ok(f, "{\"i\":3,\"d\":3.0,\"e\":3e0,\"s\":\"3\",\"b\":true,\"n\":null}");
    assert_true(cr_json_is_int(json_object_object_get(o, "i")));
    assert_false(cr_json_is_int(json_object_object_get(o, "d")));
    assert_false(cr_json_is_int(json_object_object_get(o, "e")));
    assert_false(cr_json_is_int(json_object_object_get(o, "s")));
    assert_false(cr_json_is_int(json_object_object_get(o, "b")));
    assert_false(cr_json_is_int(json_object_object_get(o, "n")));
    assert_false(cr_json_is_int(NULL));
}

/* ---- cr_json_uuid, cr_json_array ----------------------------------------- */

static void test_uuid_field(void **state)
{
    struct json_fixture *f = *state;
    struct cr_uuid u, want;
    char buf[CR_UUID_STRLEN];
    json_object *o = parse_ok(f, "{\"userId\":\"0190f5e2-abcd-7ef0-8123-456789abcdef\","
                                 "\"upper\":\"0190F5E2-ABCD-7EF0-8123-456789ABCDEF\","
                                 "\"short\":\"0190f5e2-abcd-7ef0-8123-456789abcde\","
                                 "\"nodash\":\"0190f5e2abcd7ef08123456789abcdef\","
                                 "\"num\":5,\"nul\":null,\"arr\":[\"x\"]}");
    assert_int_equal(cr_uuid_parse("0190f5e2-abcd-7ef0-8123-456789abcdef", &want), CR_OK);
    assert_int_equal(cr_json_uuid(&f->req, o, "userId", &u), CR_OK);
    assert_memory_equal(u.b, want.b, 16);
    assert_string_equal(cr_uuid_format(&u, buf), "0190f5e2-abcd-7ef0-8123-456789abcdef");
    memset(&u, 0, sizeof(u));
    assert_int_equal(cr_json_uuid(&f->req, o, "upper", &u), CR_OK);
    assert_memory_equal(u.b, want.b, 16);

    /* A string with an embedded NUL (cr_json_parse refuses one, but a caller may build it):
     * the C string is the 36-character uuid, the value is not. */
    json_object_object_add(o, "nulcut",
                           json_object_new_string_len(
                               "0190f5e2-abcd-7ef0-8123-456789abcdef\0x", 38));
    static const char *const bad[] = {"short", "nodash", "num", "nul", "arr", "missing", "nulcut"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->req.errmsg = NULL;
        assert_int_equal(cr_json_uuid(&f->req, o, bad[i], &u), CR_E_INVALID);
        assert_non_null(f->req.errmsg);
        assert_non_null(strstr(f->req.errmsg, bad[i]));
    }
}

static void test_array_field(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = parse_ok(f, "{\"one\":[\"a\"],\"four\":[1,2,3,4],\"five\":[1,2,3,4,5],"
                                 "\"empty\":[],\"str\":\"[1]\",\"obj\":{\"0\":1},\"nul\":null}");
    json_object *arr = NULL;
    assert_int_equal(cr_json_array(&f->req, o, "one", 1, 4, &arr), CR_OK);
    assert_ptr_equal(arr, json_object_object_get(o, "one"));
    assert_int_equal(json_object_array_length(arr), 1);
    assert_int_equal(cr_json_array(&f->req, o, "four", 1, 4, &arr), CR_OK);
    assert_int_equal(json_object_array_length(arr), 4);
    assert_int_equal(cr_json_array(&f->req, o, "empty", 0, 4, &arr), CR_OK);
    assert_int_equal(json_object_array_length(arr), 0);

    static const char *const bad[] = {"five", "empty", "str", "obj", "nul", "missing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        arr = NULL;
        f->req.errmsg = NULL;
        assert_int_equal(cr_json_array(&f->req, o, bad[i], 1, 4, &arr), CR_E_INVALID);
        assert_null(arr);
        assert_non_null(f->req.errmsg);
        assert_non_null(strstr(f->req.errmsg, bad[i]));
    }
}

/* ---- cr_json_body ------------------------------------------------------- */

static void set_body(struct json_fixture *f, const char *body)
{
    f->req.body = body;
    f->req.body_len = strlen(body);
    f->req.errmsg = NULL;
}

static void test_body_empty(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = NULL;
    set_body(f, "");
    assert_int_equal(cr_json_body(&f->req, &o), CR_OK);
    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    assert_int_equal(json_object_object_length(o), 0);
}

static void test_body_whitespace(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = NULL;
    set_body(f, " \r\n\t ");
    assert_int_equal(cr_json_body(&f->req, &o), CR_OK);
    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    assert_int_equal(json_object_object_length(o), 0);
}

static void test_body_object(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = NULL;
    long long v = 0;
    set_body(f, "{\"amount\": 10000}");
    assert_int_equal(cr_json_body(&f->req, &o), CR_OK);
    assert_int_equal(cr_json_int(&f->req, o, "amount", 1, 10000000, &v), CR_OK);
    assert_int_equal(v, 10000);
}

static void test_body_not_object(void **state)
{
    struct json_fixture *f = *state;
    static const char *const bad[] = {"[]", "[{}]", "\"x\"", "1 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *o = NULL;
        set_body(f, bad[i]);
        assert_int_equal(cr_json_body(&f->req, &o), CR_E_INVALID);
        assert_null(o);
        assert_non_null(f->req.errmsg);
        assert_non_null(strstr(f->req.errmsg, "object"));
    }
}

static void test_body_malformed(void **state)
{
    struct json_fixture *f = *state;
    json_object *o = NULL;
    set_body(f, "{\"amount\": 10000");
    assert_int_equal(cr_json_body(&f->req, &o), CR_E_INVALID);
    assert_null(o);
    assert_non_null(f->req.errmsg);
    assert_non_null(strstr(f->req.errmsg, "JSON"));
}

/* ---- output helpers ----------------------------------------------------- */

static void test_add_and_text(void **state)
{
    struct json_fixture *f = *state;
    struct cr_uuid u;
    json_object *o = json_object_new_object();
    cr_arena_cleanup(f->req.arena, put_cb, o);
    memset(&u, 0, sizeof(u));
    u.b[15] = 0xab;
    cr_json_add_uuid(o, "id", &u);
    cr_json_add_time(o, "at", 0);
    cr_json_add_str(o, "path", "a/b");
    cr_json_add_str(o, "none", NULL);
    cr_json_add_int(o, "n", -9000000000LL);
    assert_string_equal(cr_json_text(f->req.arena, o),
                        "{\"id\":\"00000000-0000-0000-0000-0000000000ab\","
                        "\"at\":\"1970-01-01T00:00:00.000Z\",\"path\":\"a/b\",\"none\":null,"
                        "\"n\":-9000000000}");
}

/* The writer gives json-c's compact text, escapes and all. */
static void test_writer_matches_json_c(void **state)
{
    struct json_fixture *f = *state;
    static const char *const strs[] = {"plain", "", "a/b", "q\"uote", "back\\slash",
                                       "\b\f\n\r\t", "\x01\x1f\x7f", "caf\xc3\xa9"};
    struct cr_uuid u;
    memset(&u, 0, sizeof(u));
    u.b[0] = 0x01;
    u.b[15] = 0xab;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        json_object *o = json_object_new_object();
        cr_arena_cleanup(f->req.arena, put_cb, o);
        cr_json_add_str(o, "s", strs[i]);
        cr_json_add_uuid(o, "id", &u);
        cr_json_add_time(o, "at", 1798761600123LL);
        cr_json_add_int(o, "n", -9000000000LL);
        cr_json_add_int(o, "z", 0);
        cr_json_add_str(o, "none", NULL);
        struct cr_jw w;
        cr_jw_begin(&w, f->req.arena, 256);
        cr_jw_str(&w, "s", strs[i]);
        cr_jw_uuid(&w, "id", &u);
        cr_jw_time(&w, "at", 1798761600123LL);
        cr_jw_int(&w, "n", -9000000000LL);
        cr_jw_int(&w, "z", 0);
        cr_jw_str(&w, "none", NULL);
        assert_string_equal(cr_jw_end(&w), cr_json_text(f->req.arena, o));
    }
    struct cr_jw w;
    cr_jw_begin(&w, f->req.arena, 16);
    cr_jw_str(&w, "key", "a string longer than the buffer");
    assert_null(cr_jw_end(&w));
    cr_jw_begin(&w, f->req.arena, 3); /* "{}" and its NUL */
    assert_string_equal(cr_jw_end(&w), "{}");
}

/* The short way for {"userId": "<uuid>"} answers exactly as the long way, for bodies it takes
 * and bodies it leaves to json-c. */
static void test_body_uuid_fast_and_slow_agree(void **state)
{
    struct json_fixture *f = *state;
    static const char *const bodies[] = {
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d40\"}",
        " { \"userId\" : \"01a21ecf-786b-7b01-8000-000000030d40\" } \n",
        "{\"userId\":\"01A21ECF-786B-7B01-8000-000000030D40\"}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d4\"}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d400\"}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-00000003\\u0030d40\"}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d40\",\"userId\":\"01a21ecf-786b-7b01-8000-000000030d41\"}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d40\",\"x\":1}",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d40\"} x",
        "{\"userId\":\"01a21ecf-786b-7b01-8000-000000030d40\"}}",
        "{\"userid\":\"01a21ecf-786b-7b01-8000-000000030d40\"}",
        "{\"userId\":\"zza21ecf-786b-7b01-8000-000000030d40\"}",
        "{\"userId\":01}", "{\"userId\":null}", "{}", "", "[]", "{\"userId\":\"",
        "{\"userId\"", "{", "\"userId\"",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct cr_uuid fast, slow;
        json_object *o = NULL;
        memset(&fast, 0, sizeof(fast));
        memset(&slow, 0, sizeof(slow));
        set_body(f, bodies[i]);
        f->req.errmsg = NULL;
        int rc_fast = cr_json_body_uuid(&f->req, "userId", &fast);
        const char *msg_fast = f->req.errmsg;
        f->req.errmsg = NULL;
        int rc_slow = cr_json_body(&f->req, &o);
        if (rc_slow == CR_OK)
            rc_slow = cr_json_uuid(&f->req, o, "userId", &slow);
        const char *msg_slow = f->req.errmsg;
        assert_int_equal(rc_fast, rc_slow);
        assert_memory_equal(&fast, &slow, sizeof(fast));
        if (msg_fast != NULL || msg_slow != NULL) {
            assert_non_null(msg_fast);
            assert_non_null(msg_slow);
            assert_string_equal(msg_fast, msg_slow);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_rejects_garbage),
        cmocka_unit_test(test_parse_rejects_single_quotes),
        cmocka_unit_test(test_parse_rejects_comments),
        cmocka_unit_test(test_parse_rejects_nul),
        cmocka_unit_test(test_parse_rejects_empty),
        cmocka_unit_test(test_parse_size_limit),
        cmocka_unit_test(test_parse_number_at_end),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_parse_rejects_escaped_nul),
        cmocka_unit_test(test_parse_rejects_invalid_utf8),
        cmocka_unit_test(test_parse_rejects_lone_surrogates),
        cmocka_unit_test(test_parse_rejects_bad_escapes),
        cmocka_unit_test(test_parse_rejects_duplicate_keys),
        cmocka_unit_test(test_parse_very_deep),
        cmocka_unit_test_setup_teardown(test_int_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_beyond_int64_with_full_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuid_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_whitespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_not_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_matches_json_c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_uuid_fast_and_slow_agree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
