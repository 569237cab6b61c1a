/* cr_ttoken.h: the timed mode's self-checking queue token: user, arrival number, admission
 * time and expiry, signed with HMAC-SHA-256 under a key whose id travels in the token.
 *
 * Wire form: unpadded base64url of
 *   'T' | kid length (1..16) | kid | user (16) | seq (8) | admit ms (8) | exp ms (8) | mac (32)
 * (integers big-endian), the mac over everything before it. Only the canonical encoding
 * verifies: another spelling of the same bytes is a different, invalid token. */
#ifndef CR_TTOKEN_H
#define CR_TTOKEN_H

#include <stddef.h>

#include "cr_uuid.h"

#define CR_TTOKEN_KID_MAX 16
#define CR_TTOKEN_SECRET_MIN 32 /* bytes */
#define CR_TTOKEN_KEYS_MAX 8
/* 1 + 1 + 16 + 16 + 24 + 32 = 90 bytes at most: 120 characters, NUL included 121. */
#define CR_TTOKEN_STRLEN 121

struct cr_ttoken {
    struct cr_uuid user;
    long long seq;      /* arrival number: 1 for the first token ever issued */
    long long admit_ms; /* admission time */
    long long exp_ms;   /* end of life: admission + QUEUE_ACTIVE_TTL */
    char kid[CR_TTOKEN_KID_MAX + 1]; /* the key that signed it (filled by both calls) */
};

/* Replaces the key list with spec, "id:secret,id:secret,..." (QUEUE_TOKEN_KEYS): the first key
 * signs, every listed key verifies. An id is 1..16 of [A-Za-z0-9_-]; a secret at least 32
 * bytes. CR_OK, or CR_E_INVALID with the reason in err (which never holds a secret). */
int cr_ttoken_keys_load(const char *spec, char *err, size_t errlen);
/* Forgets every key (their bytes are wiped). */
void cr_ttoken_keys_clear(void);

/* Signs t with the first key into out (CR_TTOKEN_STRLEN bytes); sets t->kid. CR_OK, or
 * CR_E_INTERNAL when no key is loaded. */
int cr_ttoken_sign(struct cr_ttoken *t, char *out);
/* Decodes and checks s (its signature under the key its id names, and its canonical form);
 * fills t. Says nothing about time: the caller compares admit_ms and exp_ms with its clock.
 * CR_OK or CR_E_TOKEN_INVALID. */
int cr_ttoken_verify(const char *s, struct cr_ttoken *t);

#endif
