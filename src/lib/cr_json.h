/* cr_json.h: strict parsing of request bodies and typed field access on json-c. */
#ifndef CR_JSON_H
#define CR_JSON_H

#include <json-c/json.h>

#include "cr_http.h"

/* Parses text (len bytes) as one strict JSON value with nothing after it. Returns CR_OK and a
 * new object owned by the caller, or CR_E_INVALID. */
int cr_json_parse(const char *text, size_t len, json_object **out);

/* Parses the request body as a JSON object; an empty body gives an empty object. The object is
 * owned by the request's arena. CR_E_INVALID with a message on failure. */
int cr_json_body(struct cr_req *req, json_object **out);

/* Reads a required integer field in [min, max]. A float, exponent, string, boolean, null or
 * out-of-range value is CR_E_INVALID with a message naming the field. */
int cr_json_int(struct cr_req *req, json_object *obj, const char *key, long long min,
                long long max, long long *out);
/* Reads a required string field holding a UUID. */
int cr_json_uuid(struct cr_req *req, json_object *obj, const char *key, struct cr_uuid *out);
/* The body's one UUID field key, for a route whose body holds nothing else: a body that is
 * exactly {"key":"<uuid>"} (whitespace allowed between tokens) is read without json-c; any
 * other goes through cr_json_body() and cr_json_uuid(), so the answers are theirs. */
int cr_json_body_uuid(struct cr_req *req, const char *key, struct cr_uuid *out);
/* Reads a required array field with min..max elements; the array stays owned by obj. */
int cr_json_array(struct cr_req *req, json_object *obj, const char *key, size_t min, size_t max,
                  json_object **out);
/* Returns 1 when v is a JSON integer literal (json-c keeps 1.0 and 1e3 as doubles). */
int cr_json_is_int(json_object *v);

/* Adds a UUID / a millisecond time (RFC 3339) / a string to obj under key. */
void cr_json_add_uuid(json_object *obj, const char *key, const struct cr_uuid *u);
void cr_json_add_time(json_object *obj, const char *key, long long ms);
void cr_json_add_str(json_object *obj, const char *key, const char *s);
void cr_json_add_int(json_object *obj, const char *key, long long v);

/* A writer of one flat JSON object into an arena buffer, for the hottest answers (json-c's
 * tree and serialiser were a quarter of a queue join's instructions). Same text as json-c's
 * compact form. Keys are literals of plain ASCII; values are escaped. */
struct cr_jw {
    char *buf, *p, *end;
    int n; /* members written */
};
void cr_jw_begin(struct cr_jw *w, struct cr_arena *a, size_t cap);
void cr_jw_str(struct cr_jw *w, const char *key, const char *s);
void cr_jw_int(struct cr_jw *w, const char *key, long long v);
void cr_jw_uuid(struct cr_jw *w, const char *key, const struct cr_uuid *u);
void cr_jw_time(struct cr_jw *w, const char *key, long long ms);
/* Closes the object; the NUL-terminated text, or NULL when cap was too small. */
const char *cr_jw_end(struct cr_jw *w);

/* Serialises obj compactly into an arena string. */
const char *cr_json_text(struct cr_arena *a, json_object *obj);

#endif
