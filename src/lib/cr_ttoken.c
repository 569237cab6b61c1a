/* cr_ttoken.c: encoding, signing and checking the timed mode's tokens (OpenSSL's HMAC). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cr_error.h"
#include "cr_ttoken.h"

#define CR_TTOKEN_MAC 32
#define CR_TTOKEN_RAW_MAX (2 + CR_TTOKEN_KID_MAX + 16 + 24 + CR_TTOKEN_MAC)

struct cr_ttoken_key {
    char id[CR_TTOKEN_KID_MAX + 1];
    unsigned char *secret;
    size_t len;
    /* SHA-256 after the key's inner and outer pads, made on first use: an HMAC is then two
     * context copies and two short hashes. HMAC() fetched the algorithm and keyed a new
     * context on every call, a fifth of a timed join's CPU in the worker (bench/RESULTS.md). */
    EVP_MD_CTX *inner, *outer;
};
static struct cr_ttoken_key cr_ttoken_keys[CR_TTOKEN_KEYS_MAX];
static int cr_ttoken_nkeys;

static const char cr_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cr_ttoken_keys_clear(void)
{
    for (int i = 0; i < cr_ttoken_nkeys; i++) {
        OPENSSL_cleanse(cr_ttoken_keys[i].secret, cr_ttoken_keys[i].len);
        free(cr_ttoken_keys[i].secret);
        EVP_MD_CTX_free(cr_ttoken_keys[i].inner);
        EVP_MD_CTX_free(cr_ttoken_keys[i].outer);
    }
    memset(cr_ttoken_keys, 0, sizeof(cr_ttoken_keys));
    cr_ttoken_nkeys = 0;
}

static int cr_ttoken_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int cr_ttoken_keys_load(const char *spec, char *err, size_t errlen)
{
    cr_ttoken_keys_clear();
    const char *p = spec != NULL ? spec : "";
    int n = 0;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t idlen = colon != NULL ? (size_t)(colon - p) : 0;
        if (colon == NULL || idlen == 0 || idlen > CR_TTOKEN_KID_MAX) {
            snprintf(err, errlen, "QUEUE_TOKEN_KEYS entry %d is not id:secret with a 1-16 "
                                  "character id", n + 1);
            goto fail;
        }
        for (size_t i = 0; i < idlen; i++)
            if (!cr_ttoken_id_char(p[i])) {
                snprintf(err, errlen, "QUEUE_TOKEN_KEYS entry %d: the id may hold only "
                                      "A-Z a-z 0-9 _ -", n + 1);
                goto fail;
            }
        size_t slen = len - idlen - 1;
        if (slen < CR_TTOKEN_SECRET_MIN) {
            snprintf(err, errlen, "QUEUE_TOKEN_KEYS entry %d: the secret is %zu bytes, at least "
                                  "%d are needed", n + 1, slen, CR_TTOKEN_SECRET_MIN);
            goto fail;
        }
        if (n == CR_TTOKEN_KEYS_MAX) {
            snprintf(err, errlen, "QUEUE_TOKEN_KEYS holds more than %d keys", CR_TTOKEN_KEYS_MAX);
            goto fail;
        }
        for (int i = 0; i < n; i++)
            if (strlen(cr_ttoken_keys[i].id) == idlen && memcmp(cr_ttoken_keys[i].id, p, idlen) == 0) {
                snprintf(err, errlen, "QUEUE_TOKEN_KEYS names key id %.*s twice", (int)idlen, p);
                goto fail;
            }
        struct cr_ttoken_key *k = &cr_ttoken_keys[n];
        memcpy(k->id, p, idlen);
        k->secret = malloc(slen);
        if (k->secret == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        memcpy(k->secret, colon + 1, slen);
        k->len = slen;
        cr_ttoken_nkeys = ++n;
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0) {
        snprintf(err, errlen, "QUEUE_TOKEN_KEYS is empty: the timed mode needs a signing key");
        goto fail;
    }
    return CR_OK;
fail:
    cr_ttoken_keys_clear();
    return CR_E_INVALID;
}

static void cr_put64(unsigned char *p, long long v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (unsigned char)(u & 0xff);
}

static long long cr_get64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return (long long)u;
}

static size_t cr_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = cr_b64[v >> 18 & 63];
        out[o++] = cr_b64[v >> 12 & 63];
        out[o++] = cr_b64[v >> 6 & 63];
        out[o++] = cr_b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = cr_b64[v >> 18 & 63];
        out[o++] = cr_b64[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = cr_b64[v >> 18 & 63];
        out[o++] = cr_b64[v >> 12 & 63];
        out[o++] = cr_b64[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int cr_b64_value(char c)
{
    const char *p = c != '\0' ? strchr(cr_b64, c) : NULL;
    return p != NULL ? (int)(p - cr_b64) : -1;
}

/* Strict unpadded base64url: -1 for any other character, a length that no byte count has, or
 * unused low bits that are not zero (another spelling of the same bytes). */
static long cr_b64_decode(const char *s, size_t n, unsigned char *out, size_t max)
{
    size_t o = 0, i = 0;
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > max)
        return -1;
    for (; i < n; i += 4) {
        size_t take = n - i < 4 ? n - i : 4;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = j < take ? cr_b64_value(s[i + j]) : 0;
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (unsigned char)(v >> 16);
        if (take > 2)
            out[o++] = (unsigned char)(v >> 8);
        if (take > 3)
            out[o++] = (unsigned char)v;
        if ((take == 2 && (v & 0xffff)) || (take == 3 && (v & 0xff)))
            return -1;
    }
    return (long)o;
}

static struct cr_ttoken_key *cr_ttoken_key_find(const unsigned char *id, size_t n)
{
    for (int i = 0; i < cr_ttoken_nkeys; i++)
        if (strlen(cr_ttoken_keys[i].id) == n && memcmp(cr_ttoken_keys[i].id, id, n) == 0)
            return &cr_ttoken_keys[i];
    return NULL;
}

/* The raw token without its mac; returns its length. */
static size_t cr_ttoken_body(const struct cr_ttoken *t, const char *kid, unsigned char *raw)
{
    size_t k = strlen(kid), n = 0;
    raw[n++] = 'T';
    raw[n++] = (unsigned char)k;
    memcpy(raw + n, kid, k);
    n += k;
    memcpy(raw + n, t->user.b, 16);
    n += 16;
    cr_put64(raw + n, t->seq);
    cr_put64(raw + n + 8, t->admit_ms);
    cr_put64(raw + n + 16, t->exp_ms);
    return n + 24;
}

/* HMAC-SHA-256 (RFC 2104) with the key's pads hashed once. */
static int cr_ttoken_pads(struct cr_ttoken_key *k)
{
    unsigned char block[64], pad[64];
    unsigned int l = 0;
    int ok = 0;
    memset(block, 0, sizeof(block));
    if (k->len > sizeof(block))
        ok = EVP_Digest(k->secret, k->len, block, &l, EVP_sha256(), NULL);
    else {
        memcpy(block, k->secret, k->len);
        ok = 1;
    }
    if (ok && (k->inner = EVP_MD_CTX_new()) != NULL && (k->outer = EVP_MD_CTX_new()) != NULL) {
        for (int i = 0; i < 64; i++)
            pad[i] = block[i] ^ 0x36;
        ok = EVP_DigestInit_ex(k->inner, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(k->inner, pad, sizeof(pad));
        for (int i = 0; i < 64; i++)
            pad[i] = block[i] ^ 0x5c;
        ok = ok && EVP_DigestInit_ex(k->outer, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(k->outer, pad, sizeof(pad));
    } else
        ok = 0;
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    if (!ok) {
        EVP_MD_CTX_free(k->inner);
        EVP_MD_CTX_free(k->outer);
        k->inner = k->outer = NULL;
        return CR_E_INTERNAL;
    }
    return CR_OK;
}

static int cr_ttoken_mac(struct cr_ttoken_key *k, const unsigned char *raw, size_t n,
                         unsigned char *mac)
{
    static EVP_MD_CTX *c; /* scratch, kept for the process */
    unsigned char ih[CR_TTOKEN_MAC];
    unsigned int l1 = 0, l2 = 0;
    if ((k->inner == NULL && cr_ttoken_pads(k) != CR_OK) ||
        (c == NULL && (c = EVP_MD_CTX_new()) == NULL))
        return CR_E_INTERNAL;
    if (!EVP_MD_CTX_copy_ex(c, k->inner) || !EVP_DigestUpdate(c, raw, n) ||
        !EVP_DigestFinal_ex(c, ih, &l1) || !EVP_MD_CTX_copy_ex(c, k->outer) ||
        !EVP_DigestUpdate(c, ih, sizeof(ih)) || !EVP_DigestFinal_ex(c, mac, &l2) ||
        l1 != CR_TTOKEN_MAC || l2 != CR_TTOKEN_MAC)
        return CR_E_INTERNAL;
    return CR_OK;
}

int cr_ttoken_sign(struct cr_ttoken *t, char *out)
{
    unsigned char raw[CR_TTOKEN_RAW_MAX];
    if (cr_ttoken_nkeys == 0)
        return CR_E_INTERNAL;
    struct cr_ttoken_key *k = &cr_ttoken_keys[0];
    size_t n = cr_ttoken_body(t, k->id, raw);
    if (cr_ttoken_mac(k, raw, n, raw + n) != CR_OK)
        return CR_E_INTERNAL;
    strcpy(t->kid, k->id);
    cr_b64_encode(raw, n + CR_TTOKEN_MAC, out);
    return CR_OK;
}

int cr_ttoken_verify(const char *s, struct cr_ttoken *t)
{
    unsigned char raw[CR_TTOKEN_RAW_MAX], mac[CR_TTOKEN_MAC];
    size_t slen = strnlen(s, CR_TTOKEN_STRLEN);
    if (slen >= CR_TTOKEN_STRLEN)
        return CR_E_TOKEN_INVALID;
    long n = cr_b64_decode(s, slen, raw, sizeof(raw));
    if (n < 2 + 1 + 16 + 24 + CR_TTOKEN_MAC || raw[0] != 'T')
        return CR_E_TOKEN_INVALID;
    size_t k = raw[1];
    if (k < 1 || k > CR_TTOKEN_KID_MAX || (size_t)n != 2 + k + 16 + 24 + CR_TTOKEN_MAC)
        return CR_E_TOKEN_INVALID;
    struct cr_ttoken_key *key = cr_ttoken_key_find(raw + 2, k);
    size_t body = (size_t)n - CR_TTOKEN_MAC;
    if (key == NULL || cr_ttoken_mac(key, raw, body, mac) != CR_OK ||
        CRYPTO_memcmp(mac, raw + body, CR_TTOKEN_MAC) != 0)
        return CR_E_TOKEN_INVALID;
    memcpy(t->kid, raw + 2, k);
    t->kid[k] = '\0';
    memcpy(t->user.b, raw + 2 + k, 16);
    t->seq = cr_get64(raw + 2 + k + 16);
    t->admit_ms = cr_get64(raw + 2 + k + 24);
    t->exp_ms = cr_get64(raw + 2 + k + 32);
    if (t->seq < 1 || t->admit_ms < 0 || t->exp_ms < t->admit_ms)
        return CR_E_TOKEN_INVALID;
    return CR_OK;
}
