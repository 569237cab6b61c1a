/* test_ttoken.c: unit tests of the timed mode's signed tokens: round trip, every changed bit
 * or character refused, truncation, non-canonical spellings, key ids and rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cr_error.h"
#include "cr_ttoken.h"

#define SECRET_A "a-secret-of-at-least-32-bytes-aaaaaaaa"
#define SECRET_B "b-secret-of-at-least-32-bytes-bbbbbbbb"
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void sample(struct cr_ttoken *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < 16; i++)
        t->user.b[i] = (uint8_t)(i * 17 + 3);
    t->seq = 123456;
    t->admit_ms = 1798138800123LL;
    t->exp_ms = t->admit_ms + 600000;
}

static int load(const char *spec)
{
    char err[256];
    return cr_ttoken_keys_load(spec, err, sizeof(err));
}

static void test_round_trip(void **state)
{
    (void)state;
    struct cr_ttoken t, back;
    char s[CR_TTOKEN_STRLEN], s2[CR_TTOKEN_STRLEN];
    assert_int_equal(load("k1:" SECRET_A), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    assert_string_equal(t.kid, "k1");
    assert_true(strlen(s) <= 256);
    assert_int_equal(strspn(s, b64), strlen(s)); /* URL-safe, no padding */
    assert_int_equal(cr_ttoken_verify(s, &back), CR_OK);
    assert_memory_equal(back.user.b, t.user.b, 16);
    assert_int_equal(back.seq, t.seq);
    assert_int_equal(back.admit_ms, t.admit_ms);
    assert_int_equal(back.exp_ms, t.exp_ms);
    assert_string_equal(back.kid, "k1");
    /* Signing is deterministic: a re-join gets the very same token. */
    assert_int_equal(cr_ttoken_sign(&t, s2), CR_OK);
    assert_string_equal(s, s2);
}

/* The mac made from the key's precomputed pads is OpenSSL's one-shot HMAC-SHA-256 of the
 * token's body, with a short key and with one longer than SHA-256's block (hashed first). */
static void check_mac(const char *secret)
{
    char spec[200], s[CR_TTOKEN_STRLEN];
    unsigned char raw[256], mac[32];
    unsigned int len = 0;
    struct cr_ttoken t;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    snprintf(spec, sizeof(spec), "k1:%s", secret);
    assert_int_equal(load(spec), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    for (const char *p = s; *p; p++) {
        acc = acc << 6 | (unsigned)(strchr(b64, *p) - b64);
        if ((bits += 6) >= 8) {
            bits -= 8;
            raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    assert_true(n > 32);
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), raw, n - 32, mac, &len));
    assert_int_equal(len, 32);
    assert_memory_equal(raw + n - 32, mac, 32);
    assert_int_equal(cr_ttoken_verify(s, &t), CR_OK);
}

static void test_mac_is_hmac_sha256(void **state)
{
    (void)state;
    check_mac(SECRET_A);
    check_mac(SECRET_A SECRET_B "-more-than-sixty-four-bytes-in-all");
}

/* Changes the n-th bit of the decoded token by editing the text: every 6-bit character
 * carries bits, so flipping one bit of a character's value is one changed bit. */
static void test_every_changed_bit_or_char_refused(void **state)
{
    (void)state;
    struct cr_ttoken t, back;
    char s[CR_TTOKEN_STRLEN], m[CR_TTOKEN_STRLEN];
    assert_int_equal(load("k1:" SECRET_A), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    size_t n = strlen(s);
    int refused = 0, tried = 0;
    for (size_t i = 0; i < n; i++) {
        int v = (int)(strchr(b64, s[i]) - b64);
        for (int bit = 0; bit < 6; bit++) {
            strcpy(m, s);
            m[i] = b64[v ^ (1 << bit)];
            tried++;
            refused += cr_ttoken_verify(m, &back) == CR_E_TOKEN_INVALID;
        }
        for (const char *c = "A_-9+/=.~ "; *c; c++) { /* other characters, URL-safe or not */
            if (*c == s[i])
                continue;
            strcpy(m, s);
            m[i] = *c;
            tried++;
            refused += cr_ttoken_verify(m, &back) == CR_E_TOKEN_INVALID;
        }
    }
    assert_int_equal(refused, tried);
}

static void test_truncated_extended_padded_refused(void **state)
{
    (void)state;
    struct cr_ttoken t, back;
    char s[CR_TTOKEN_STRLEN], m[CR_TTOKEN_STRLEN + 8];
    assert_int_equal(load("k1:" SECRET_A), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    for (size_t len = 0; len < strlen(s); len++) {
        snprintf(m, sizeof(m), "%.*s", (int)len, s);
        assert_int_equal(cr_ttoken_verify(m, &back), CR_E_TOKEN_INVALID);
    }
    snprintf(m, sizeof(m), "%sA", s);
    assert_int_equal(cr_ttoken_verify(m, &back), CR_E_TOKEN_INVALID);
    snprintf(m, sizeof(m), "%s=", s);
    assert_int_equal(cr_ttoken_verify(m, &back), CR_E_TOKEN_INVALID);
    assert_int_equal(cr_ttoken_verify("", &back), CR_E_TOKEN_INVALID);
}

/* The same bytes spelled another way (non-zero unused bits in the last character). */
static void test_non_canonical_refused(void **state)
{
    (void)state;
    struct cr_ttoken t, back;
    char s[CR_TTOKEN_STRLEN];
    assert_int_equal(load("k1:" SECRET_A), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    size_t n = strlen(s);
    assert_true(n % 4 != 0); /* 2 + 2 + 16 + 24 + 32 = 76 bytes: a partial last group */
    int unused = n % 4 == 2 ? 4 : 2, v = (int)(strchr(b64, s[n - 1]) - b64);
    assert_int_equal(v & ((1 << unused) - 1), 0);
    for (int x = 1; x < (1 << unused); x++) {
        s[n - 1] = b64[v | x];
        assert_int_equal(cr_ttoken_verify(s, &back), CR_E_TOKEN_INVALID);
    }
}

static void test_rotation(void **state)
{
    (void)state;
    struct cr_ttoken t, back;
    char old[CR_TTOKEN_STRLEN], cur[CR_TTOKEN_STRLEN];
    assert_int_equal(load("old:" SECRET_A), CR_OK);
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, old), CR_OK);
    /* A new key signs; the old one, still listed, verifies. */
    assert_int_equal(load("new:" SECRET_B ",old:" SECRET_A), CR_OK);
    assert_int_equal(cr_ttoken_verify(old, &back), CR_OK);
    assert_string_equal(back.kid, "old");
    assert_int_equal(cr_ttoken_sign(&t, cur), CR_OK);
    assert_string_equal(t.kid, "new");
    assert_string_not_equal(cur, old);
    assert_int_equal(cr_ttoken_verify(cur, &back), CR_OK);
    /* Rotated out: refused. The same id with another secret: refused. */
    assert_int_equal(load("new:" SECRET_B), CR_OK);
    assert_int_equal(cr_ttoken_verify(old, &back), CR_E_TOKEN_INVALID);
    assert_int_equal(cr_ttoken_verify(cur, &back), CR_OK);
    assert_int_equal(load("old:" SECRET_B), CR_OK);
    assert_int_equal(cr_ttoken_verify(old, &back), CR_E_TOKEN_INVALID);
}

static void test_keys_load_errors(void **state)
{
    (void)state;
    char err[256];
    struct cr_ttoken t;
    char s[CR_TTOKEN_STRLEN];
    assert_int_equal(cr_ttoken_keys_load("", err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(cr_ttoken_keys_load("k1:short", err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "at least 32"));
    assert_null(strstr(err, "short")); /* a secret never reaches a message */
    assert_int_equal(cr_ttoken_keys_load(":" SECRET_A, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_ttoken_keys_load("k 1:" SECRET_A, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_ttoken_keys_load("k1" SECRET_A, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(cr_ttoken_keys_load("k1:" SECRET_A ",k1:" SECRET_B, err, sizeof(err)),
                     CR_E_INVALID);
    assert_int_equal(cr_ttoken_keys_load("a-very-long-key-id-x:" SECRET_A, err, sizeof(err)),
                     CR_E_INVALID);
    /* After a failed load nothing signs. */
    sample(&t);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_E_INTERNAL);
    assert_int_equal(cr_ttoken_keys_load("k1:" SECRET_A ",k2:" SECRET_B, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_ttoken_sign(&t, s), CR_OK);
    cr_ttoken_keys_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_mac_is_hmac_sha256),
        cmocka_unit_test(test_every_changed_bit_or_char_refused),
        cmocka_unit_test(test_truncated_extended_padded_refused),
        cmocka_unit_test(test_non_canonical_refused),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_keys_load_errors),
    };
    int rc = cmocka_run_group_tests_name("ttoken", tests, NULL, NULL);
    cr_ttoken_keys_clear();
    return rc;
}
