/* fuzz_token.c: the bearer token parser (cr_token_from_header) on any Authorization value.
 * Checks what the gate relies on: a token it accepts is 1 to CR_TOKEN_MAX RFC 6750 characters
 * taken from the value after "Bearer ", so it can go into a Redis key as it is. */
#include <string.h>
#include <strings.h>

#include "cr_error.h"
#include "cr_fuzz.h"
#include "cr_token.h"

static int b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *header = cr_fuzz_str(data, size);
    const char *token = NULL;
    int rc = cr_token_from_header(cr_fuzz_arena, header, &token);
    CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_TOKEN_INVALID);
    if (rc == CR_OK) {
        size_t n = strlen(token);
        CR_FUZZ_CHECK(strncasecmp(header, "Bearer ", 7) == 0);
        CR_FUZZ_CHECK(n >= 1 && n <= CR_TOKEN_MAX);
        for (size_t i = 0; i < n; i++)
            CR_FUZZ_CHECK(b64token_char(token[i]));
        CR_FUZZ_CHECK(strstr(header + 7, token) != NULL);
    }
    CR_FUZZ_CHECK(cr_token_from_header(cr_fuzz_arena, NULL, &token) == CR_E_TOKEN_MISSING);
    return cr_fuzz_done();
}
