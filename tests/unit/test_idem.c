/* test_idem.c: unit tests of the idempotency module's pure parts: SHA-256 and key checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_idem.h"

static void hex(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha256_vectors(void **state)
{
    static const struct {
        const char *in;
        const char *want;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        /* 56 bytes: the length no longer fits in the first padding block. */
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"charge|amount=1000", "86d7cfd4a31b685fb868d25ce840f2a8d66cf474b54b65946f111ead666b3a9b"},
    };
    uint8_t h[32];
    char s[65];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        cr_idem_sha256(v[i].in, strlen(v[i].in), h);
        hex(h, s);
        assert_string_equal(s, v[i].want);
    }
    /* Several blocks. */
    char *a = malloc(1000);
    memset(a, 'a', 1000);
    cr_idem_sha256(a, 1000, h);
    hex(h, s);
    assert_string_equal(s, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    free(a);
}

static void test_key_check(void **state)
{
    struct cr_req req;
    memset(&req, 0, sizeof(req));
    req.arena = cr_arena_new();
    assert_int_equal(cr_idem_check_key(&req), CR_OK); /* no key at all */
    char k64[65], k65[66];
    memset(k64, 'x', 64);
    k64[64] = '\0';
    memset(k65, 'x', 65);
    k65[65] = '\0';
    const char *good[] = {"a", "A-z_09", k64};
    const char *bad[] = {"", "a b", "a.b", k65, "k\xc3\xa9y"};
    for (size_t i = 0; i < 3; i++) {
        req.idempotency_key = good[i];
        assert_int_equal(cr_idem_check_key(&req), CR_OK);
    }
    for (size_t i = 0; i < 5; i++) {
        req.idempotency_key = bad[i];
        assert_int_equal(cr_idem_check_key(&req), CR_E_INVALID);
        assert_non_null(req.errmsg);
    }
    cr_arena_free(req.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_key_check),
    };
    return cmocka_run_group_tests_name("idem", tests, NULL, NULL);
}
