/* cr_uuid.h: UUIDv7 ids (48-bit ms time, 74 random bits) as text and as BINARY(16). */
#ifndef CR_UUID_H
#define CR_UUID_H

#include <stddef.h>
#include <stdint.h>

#define CR_UUID_STRLEN 37 /* 36 characters and the NUL */

struct cr_uuid {
    uint8_t b[16];
};

/* Fills u with a new UUIDv7 for the time ms (cr_time_now_ms() normally). CR_OK or
 * CR_E_INTERNAL when the OS has no randomness to give. */
int cr_uuid_v7(struct cr_uuid *u, int64_t ms);
/* Writes the lower-case 8-4-4-4-12 form into buf (CR_UUID_STRLEN bytes); returns buf. */
char *cr_uuid_format(const struct cr_uuid *u, char *buf);
/* Parses the 8-4-4-4-12 form (either case); CR_OK or CR_E_INVALID. */
int cr_uuid_parse(const char *s, struct cr_uuid *u);

/* Fills buf with n bytes from getrandom(2); CR_OK or CR_E_INTERNAL. */
int cr_random_bytes(void *buf, size_t n);

#endif
