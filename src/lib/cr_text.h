/* cr_text.h: byte-level checks of client text: strict UTF-8, control characters, and
 * escaping for JSON lines, so that nothing a client sent reaches a log or a body raw. */
#ifndef CR_TEXT_H
#define CR_TEXT_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at s (at most n bytes), or 0 when
 * there is none: a stray continuation byte, a truncated sequence, an overlong form, an
 * encoded surrogate (U+D800..U+DFFF) or a code point above U+10FFFF. */
size_t cr_utf8_seq(const char *s, size_t n);

/* Returns 1 when s (n bytes) is well-formed UTF-8 (a NUL byte counts as valid here). */
int cr_utf8_valid(const char *s, size_t n);

/* Returns 1 when s (n bytes) is well-formed UTF-8 without NUL, other C0 control characters,
 * DEL or C1 control characters: text a client may send in a path, a query value or a header. */
int cr_text_clean(const char *s, size_t n);

/* Appends the NUL-terminated s to buf[pos..cap) as JSON string contents: quotes, backslashes
 * and control characters (C0, DEL, C1) escaped as \uXXXX, each byte that is not part of a
 * well-formed UTF-8 sequence written as \ufffd. Never splits a sequence; stops when the
 * next piece would not fit below cap. Returns the new position (buf is not terminated). */
size_t cr_text_json_escape(char *buf, size_t pos, size_t cap, const char *s);

/* Writes v in decimal at the end of buf (CR_LLD_LEN bytes, not terminated) and returns where
 * its first character is; the length is buf + CR_LLD_LEN minus that. Without printf, for the
 * answers written on every request. */
#define CR_LLD_LEN 20
char *cr_text_lld(char buf[CR_LLD_LEN], long long v);

#endif
