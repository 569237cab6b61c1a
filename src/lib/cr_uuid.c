/* cr_uuid.c: UUIDv7 per RFC 9562 section 5.7, random bits from getrandom(2). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "cr_error.h"
#include "cr_uuid.h"

int cr_random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return CR_E_INTERNAL;
        }
        p += r;
        n -= (size_t)r;
    }
    return CR_OK;
}

int cr_uuid_v7(struct cr_uuid *u, int64_t ms)
{
    if (cr_random_bytes(u->b + 6, 10) != CR_OK)
        return CR_E_INTERNAL;
    uint64_t t = (uint64_t)ms;
    for (int i = 0; i < 6; i++)
        u->b[i] = (uint8_t)(t >> (40 - 8 * i));
    u->b[6] = (uint8_t)(0x70 | (u->b[6] & 0x0f)); /* version 7, 12 random bits follow */
    u->b[8] = (uint8_t)(0x80 | (u->b[8] & 0x3f)); /* variant 10, 62 random bits follow */
    return CR_OK;
}

char *cr_uuid_format(const struct cr_uuid *u, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    char *p = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u->b[i] >> 4];
        *p++ = hex[u->b[i] & 0x0f];
    }
    *p = '\0';
    return buf;
}

static int cr_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cr_uuid_parse(const char *s, struct cr_uuid *u)
{
    if (s == NULL || strlen(s) != 36)
        return CR_E_INVALID;
    int j = 0;
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return CR_E_INVALID;
            i++;
            continue;
        }
        int hi = cr_hexval(s[i]), lo = cr_hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return CR_E_INVALID;
        u->b[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return CR_OK;
}
