/* cr_arena.h: a per-request bump allocator with cleanup handlers, reset after each request. */
#ifndef CR_ARENA_H
#define CR_ARENA_H

#include <stddef.h>

struct cr_arena;

/* Creates an empty arena; NULL when out of memory. Free it with cr_arena_free(). */
struct cr_arena *cr_arena_new(void);
/* Runs every cleanup (last registered first) and frees everything; NULL is a no-op. */
void cr_arena_free(struct cr_arena *a);
/* Runs the cleanups and forgets all allocations, keeping the first block for reuse. */
void cr_arena_reset(struct cr_arena *a);

/* Memory owned by the arena, valid until the next reset; aborts when out of memory. */
void *cr_arena_alloc(struct cr_arena *a, size_t n);
void *cr_arena_calloc(struct cr_arena *a, size_t n);
char *cr_arena_strdup(struct cr_arena *a, const char *s);
char *cr_arena_strndup(struct cr_arena *a, const char *s, size_t n);
char *cr_arena_sprintf(struct cr_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* v in decimal, as cr_arena_sprintf(a, "%lld", v) makes it without printf's cost (the
 * arguments of the hot Redis scripts). */
char *cr_arena_lld(struct cr_arena *a, long long v);

/* Registers fn(ptr) to run at the next reset or free (json-c objects, hiredis replies...).
 * A NULL ptr is not registered. */
void cr_arena_cleanup(struct cr_arena *a, void (*fn)(void *), void *ptr);

#endif
