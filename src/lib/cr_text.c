/* cr_text.c: strict UTF-8 (RFC 3629), control characters, and JSON-safe escaping. */
#include <stdio.h>
#include <string.h>

#include "cr_text.h"

size_t cr_utf8_seq(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        if (p[0] == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (p[0] == 0xed)
            hi = 0x9f; /* U+D800..U+DFFF: surrogates are no characters */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        if (p[0] == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (p[0] == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0; /* a continuation byte, an overlong 0xc0/0xc1 lead, or 0xf5..0xff */
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

int cr_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = cr_utf8_seq(s + i, n - i)) == 0)
            return 0;
    return 1;
}

/* 1 when the sequence at s (k bytes, well-formed) is a C0 control, DEL or a C1 control. */
static int cr_text_is_control(const unsigned char *s, size_t k)
{
    return (k == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (k == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

int cr_text_clean(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = cr_utf8_seq(s + i, n - i)) == 0 ||
            cr_text_is_control((const unsigned char *)s + i, k))
            return 0;
    return 1;
}

size_t cr_text_json_escape(char *buf, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0, k; i < n; i += k ? k : 1) {
        const unsigned char *p = (const unsigned char *)s + i;
        char esc[8];
        const char *piece = esc;
        size_t plen;
        k = cr_utf8_seq(s + i, n - i);
        if (k == 0) {
            piece = "\\ufffd"; /* the replacement character, never the raw byte */
            plen = 6;
        } else if (cr_text_is_control(p, k)) {
            unsigned cp = k == 1 ? p[0] : p[1]; /* C1: 0xc2 0x80..0x9f is U+0080..U+009F */
            plen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", cp);
        } else if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            plen = 2;
        } else {
            piece = s + i;
            plen = k;
        }
        if (pos + plen >= cap)
            break;
        memcpy(buf + pos, piece, plen);
        pos += plen;
    }
    return pos;
}

char *cr_text_lld(char buf[CR_LLD_LEN], long long v)
{
    char *p = buf + CR_LLD_LEN;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}
