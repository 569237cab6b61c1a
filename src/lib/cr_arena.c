/* cr_arena.c: bump allocation in chained blocks; one reset frees a whole request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_arena.h"

#define CR_ARENA_BLOCK 16384

/* Under ASan (--enable-asan, --enable-fuzz) a block's free space stays poisoned and every
 * allocation is followed by a poisoned gap, so that an overrun of one arena string into the
 * next is caught as it would be between two mallocs. */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define CR_ARENA_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define CR_ARENA_ASAN 1
#endif
#endif
#ifdef CR_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define CR_ARENA_REDZONE 16
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define CR_ARENA_REDZONE 0
#endif

struct cr_arena_block {
    struct cr_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

struct cr_arena_cleanup {
    struct cr_arena_cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

struct cr_arena {
    struct cr_arena_block *blocks; /* newest first; the last one is kept on reset */
    struct cr_arena_cleanup *cleanups;
};

static struct cr_arena_block *cr_arena_block_new(size_t size)
{
    struct cr_arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        abort();
    b->next = NULL;
    b->used = 0;
    b->size = size;
    ASAN_POISON_MEMORY_REGION(b->data, size);
    return b;
}

struct cr_arena *cr_arena_new(void)
{
    struct cr_arena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->blocks = cr_arena_block_new(CR_ARENA_BLOCK);
    return a;
}

static void cr_arena_run_cleanups(struct cr_arena *a)
{
    while (a->cleanups != NULL) {
        struct cr_arena_cleanup *c = a->cleanups;
        a->cleanups = c->next; /* unlink first: fn may not re-enter, but be safe */
        c->fn(c->ptr);
    }
}

void cr_arena_reset(struct cr_arena *a)
{
    if (a == NULL)
        return;
    cr_arena_run_cleanups(a);
    while (a->blocks->next != NULL) {
        struct cr_arena_block *b = a->blocks;
        a->blocks = b->next;
        free(b);
    }
    a->blocks->used = 0;
    ASAN_POISON_MEMORY_REGION(a->blocks->data, a->blocks->size);
}

void cr_arena_free(struct cr_arena *a)
{
    if (a == NULL)
        return;
    cr_arena_reset(a);
    free(a->blocks);
    free(a);
}

void *cr_arena_alloc(struct cr_arena *a, size_t want)
{
    size_t align = sizeof(max_align_t);
    size_t n = (want + CR_ARENA_REDZONE + align - 1) / align * align;
    if (n == 0)
        n = align;
    struct cr_arena_block *b = a->blocks;
    if (b->size - b->used < n) {
        /* Oversized requests get a block of their own, placed behind the current one. */
        size_t size = n > CR_ARENA_BLOCK ? n : CR_ARENA_BLOCK;
        struct cr_arena_block *nb = cr_arena_block_new(size);
        nb->next = a->blocks;
        a->blocks = nb;
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    ASAN_UNPOISON_MEMORY_REGION(p, want);
    return p;
}

void *cr_arena_calloc(struct cr_arena *a, size_t n)
{
    void *p = cr_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *cr_arena_strndup(struct cr_arena *a, const char *s, size_t n)
{
    char *p = cr_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cr_arena_strdup(struct cr_arena *a, const char *s)
{
    return cr_arena_strndup(a, s, strlen(s));
}

char *cr_arena_lld(struct cr_arena *a, long long v)
{
    char d[24], *out = cr_arena_alloc(a, 24), *p = out;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = 0;
    do {
        d[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = d[--n];
    *p = '\0';
    return out;
}

char *cr_arena_sprintf(struct cr_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return cr_arena_strdup(a, "");
    char *p = cr_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void cr_arena_cleanup(struct cr_arena *a, void (*fn)(void *), void *ptr)
{
    if (ptr == NULL)
        return;
    struct cr_arena_cleanup *c = cr_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
}
