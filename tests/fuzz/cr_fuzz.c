/* cr_fuzz.c: the set-up and helpers the fuzz targets share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_fuzz.h"
#include "cr_log.h"

struct cr_arena *cr_fuzz_arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cr_fuzz_arena = cr_arena_new();
    if (cr_fuzz_arena == NULL)
        abort();
    cr_log_open("fuzz", "/dev/null", "debug");
    return 0;
}

char *cr_fuzz_str(const uint8_t *data, size_t size)
{
    return cr_arena_strndup(cr_fuzz_arena, (const char *)data, strnlen((const char *)data, size));
}

int cr_fuzz_done(void)
{
    cr_arena_reset(cr_fuzz_arena);
    return 0;
}

void cr_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}
