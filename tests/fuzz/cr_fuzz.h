/* cr_fuzz.h: what the libFuzzer targets in tests/fuzz/ share: the entry points libFuzzer calls,
 * one arena reset after every input, and a finding for a broken invariant. */
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "cr_arena.h"

/* libFuzzer's entry points (defined by each target / by cr_fuzz.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The arena every target allocates its requests in; reset by cr_fuzz_done(). Created, and the
 * log opened on /dev/null (the logging code still runs on what a target feeds it), at start. */
extern struct cr_arena *cr_fuzz_arena;

/* The input as a NUL-terminated arena string (an inner NUL ends it, as in a C header value). */
char *cr_fuzz_str(const uint8_t *data, size_t size);

/* Runs the arena's cleanups and frees what the input allocated; returns 0 for libFuzzer. */
int cr_fuzz_done(void);

/* A broken invariant: prints what and where, then aborts, which libFuzzer reports as a crash
 * and saves the input. */
#define CR_FUZZ_CHECK(cond)                                                                    \
    do {                                                                                       \
        if (!(cond))                                                                           \
            cr_fuzz_fail(__FILE__, __LINE__, #cond);                                           \
    } while (0)
void cr_fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
