/* cr_json.c: strict JSON in, compact JSON out; every rejection names the field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_error.h"
#include "cr_json.h"
#include "cr_text.h"
#include "cr_time.h"

/* Nesting deeper than this is refused (json-c's own limit, checked by the scanner first). */
#define CR_JSON_DEPTH_MAX 32

static int cr_json_hex4(const char *p, size_t avail, unsigned *out)
{
    unsigned v = 0;
    if (avail < 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 1;
}

/* Checks the escape after the backslash at text[*i] and moves *i to its last byte. \u0000
 * (json-c keeps it, and every C string of ours would end there) and a surrogate that is not
 * a high one followed at once by a low one (json-c turns it into U+FFFD) are refused. */
static int cr_json_escape_ok(const char *text, size_t len, size_t *i)
{
    size_t j = *i + 1;
    unsigned u, lo;
    if (j >= len || strchr("\"\\/bfnrtu", text[j]) == NULL || text[j] == '\0')
        return 0;
    if (text[j] != 'u') {
        *i = j;
        return 1;
    }
    if (!cr_json_hex4(text + j + 1, len - j - 1, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
        return 0;
    j += 4;
    if (u >= 0xd800 && u <= 0xdbff) {
        if (j + 2 >= len || text[j + 1] != '\\' || text[j + 2] != 'u' ||
            !cr_json_hex4(text + j + 3, len - j - 3, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return 0;
        j += 6;
    }
    *i = j;
    return 1;
}

/* The strictness json-c lacks, in one pass over text: only RFC 8259 tokens outside strings
 * (json-c's strict mode still takes 'single-quoted' keys, NaN and Infinity); inside strings
 * well-formed UTF-8, no raw control characters, valid escapes without \u0000 or unpaired
 * surrogates; at most CR_JSON_DEPTH_MAX levels. counts[k] receives the number of members of
 * the k-th object in text order (its ':' at its own level), *nobj the number of objects, so
 * that cr_json_no_duplicates() can find a key json-c folded. Returns 1 when all is well. */
static int cr_json_scan(const char *text, size_t len, int *counts, size_t *nobj)
{
    size_t open[CR_JSON_DEPTH_MAX]; /* per level: the object's index in counts, or SIZE_MAX */
    size_t depth = 0, k;
    int in_str = 0;
    *nobj = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (in_str) {
            if (c < 0x20)
                return 0;
            if (c == '\\') {
                if (!cr_json_escape_ok(text, len, &i))
                    return 0;
            } else if (c == '"') {
                in_str = 0;
            } else if (c >= 0x80) {
                if ((k = cr_utf8_seq(text + i, len - i)) == 0)
                    return 0;
                i += k - 1;
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (depth == CR_JSON_DEPTH_MAX)
                return 0;
            if (c == '{') {
                counts[*nobj] = 0;
                open[depth++] = (*nobj)++;
            } else {
                open[depth++] = SIZE_MAX;
            }
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return 0; /* json-c says why; the count must not underflow */
            depth--;
        } else if (c == ':') {
            if (depth > 0 && open[depth - 1] != SIZE_MAX)
                counts[open[depth - 1]]++;
        } else if (c == '\0' || strchr(",-+.0123456789eEtrufalsn \t\r\n", c) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* Walks o in text order (json-c keeps members in insertion order, and a repeated key replaces
 * the value in the first one's place) and compares each object's size with the members the
 * scanner counted: the first object that holds a repeated key comes up short. */
static int cr_json_no_duplicates(json_object *o, const int *counts, size_t nobj, size_t *k)
{
    if (json_object_is_type(o, json_type_object)) {
        if (*k >= nobj || json_object_object_length(o) != counts[(*k)++])
            return 0;
        json_object_object_foreach(o, key, v)
        {
            (void)key;
            if (!cr_json_no_duplicates(v, counts, nobj, k))
                return 0;
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!cr_json_no_duplicates(json_object_array_get_idx(o, i), counts, nobj, k))
                return 0;
    }
    return 1;
}

int cr_json_parse(const char *text, size_t len, json_object **out)
{
    struct json_tokener *tok = NULL;
    json_object *obj = NULL;
    int *counts = NULL;
    size_t nobj = 0, k = 0, end = 0;
    int rc = CR_E_INVALID;

    *out = NULL;
    if (len == 0 || len > CR_BODY_MAX || memchr(text, '\0', len) != NULL)
        goto out;
    /* One count per '{': at most len of them (the text is not valid yet). */
    if ((counts = malloc(len * sizeof(*counts))) == NULL) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    if (!cr_json_scan(text, len, counts, &nobj))
        goto out;
    if ((tok = json_tokener_new_ex(CR_JSON_DEPTH_MAX)) == NULL) {
        rc = CR_E_INTERNAL;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    /* A number that ends the text ("2") is complete only once json-c is told the input
     * ended, by a terminating NUL (text need not have one). */
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        obj = json_tokener_parse_ex(tok, "", 1);
        end = len;
    }
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
        goto out;
    /* Only whitespace may follow the value. */
    for (size_t i = end; i < len; i++)
        if (strchr(" \t\r\n", text[i]) == NULL)
            goto out;
    if (!cr_json_no_duplicates(obj, counts, nobj, &k) || k != nobj)
        goto out;
    *out = obj;
    obj = NULL;
    rc = CR_OK;
out:
    json_object_put(obj);
    if (tok != NULL)
        json_tokener_free(tok);
    free(counts);
    return rc;
}

static void cr_json_put_cb(void *p)
{
    json_object_put(p);
}

int cr_json_body(struct cr_req *req, json_object **out)
{
    json_object *obj = NULL;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i]) != NULL)
        i++;
    if (i == req->body_len) {
        obj = json_object_new_object();
    } else if (cr_json_parse(req->body, req->body_len, &obj) != CR_OK) {
        return cr_fail(req, CR_E_INVALID, "the body is not valid JSON");
    }
    cr_arena_cleanup(req->arena, cr_json_put_cb, obj);
    if (!json_object_is_type(obj, json_type_object))
        return cr_fail(req, CR_E_INVALID, "the body must be a JSON object");
    *out = obj;
    return CR_OK;
}

int cr_json_is_int(json_object *v)
{
    return v != NULL && json_object_is_type(v, json_type_int);
}

int cr_json_int(struct cr_req *req, json_object *obj, const char *key, long long min,
                long long max, long long *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return cr_fail(req, CR_E_INVALID, "%s is required", key);
    if (!cr_json_is_int(v))
        return cr_fail(req, CR_E_INVALID, "%s must be an integer", key);
    /* json-c keeps integers above INT64_MAX as uint64; those are out of any range here. */
    if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return cr_fail(req, CR_E_INVALID, "%s must be from %lld to %lld", key, min, max);
    long long n = (long long)json_object_get_int64(v);
    if (n < min || n > max)
        return cr_fail(req, CR_E_INVALID, "%s must be from %lld to %lld", key, min, max);
    *out = n;
    return CR_OK;
}

int cr_json_uuid(struct cr_req *req, json_object *obj, const char *key, struct cr_uuid *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return cr_fail(req, CR_E_INVALID, "%s is required", key);
    /* The length too: a C string ends at an embedded NUL, "<uuid>\u0000junk" must not pass. */
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 36 ||
        cr_uuid_parse(json_object_get_string(v), out) != CR_OK)
        return cr_fail(req, CR_E_INVALID, "%s must be a UUID string", key);
    return CR_OK;
}

/* Skips JSON whitespace. */
static const char *cr_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

int cr_json_body_uuid(struct cr_req *req, const char *key, struct cr_uuid *out)
{
    const char *p = req->body, *end = req->body + req->body_len;
    size_t klen = strlen(key);
    char s[CR_UUID_STRLEN];
    p = cr_json_ws(p, end);
    if (p < end && *p++ == '{' && (p = cr_json_ws(p, end)) + klen + 2 <= end && *p == '"' &&
        memcmp(p + 1, key, klen) == 0 && p[klen + 1] == '"' &&
        (p = cr_json_ws(p + klen + 2, end)) < end && *p++ == ':' &&
        (p = cr_json_ws(p, end)) + 38 <= end && p[0] == '"' && p[37] == '"') {
        memcpy(s, p + 1, 36);
        s[36] = '\0';
        p = cr_json_ws(p + 38, end);
        /* the UUID's own check refuses any escape or odd byte in it: those go the long way */
        if (p < end && *p++ == '}' && cr_json_ws(p, end) == end && cr_uuid_parse(s, out) == CR_OK)
            return CR_OK;
    }
    json_object *body;
    int rc = cr_json_body(req, &body);
    return rc != CR_OK ? rc : cr_json_uuid(req, body, key, out);
}

int cr_json_array(struct cr_req *req, json_object *obj, const char *key, size_t min, size_t max,
                  json_object **out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return cr_fail(req, CR_E_INVALID, "%s is required", key);
    if (!json_object_is_type(v, json_type_array))
        return cr_fail(req, CR_E_INVALID, "%s must be an array", key);
    size_t n = json_object_array_length(v);
    if (n < min || n > max)
        return cr_fail(req, CR_E_INVALID, "%s must have %zu to %zu elements", key, min, max);
    *out = v;
    return CR_OK;
}

void cr_json_add_uuid(json_object *obj, const char *key, const struct cr_uuid *u)
{
    char buf[CR_UUID_STRLEN];
    json_object_object_add(obj, key, json_object_new_string(cr_uuid_format(u, buf)));
}

void cr_json_add_time(json_object *obj, const char *key, long long ms)
{
    char buf[CR_TIME_LEN];
    json_object_object_add(obj, key, json_object_new_string(cr_time_format(ms, buf)));
}

void cr_json_add_str(json_object *obj, const char *key, const char *s)
{
    json_object_object_add(obj, key, s ? json_object_new_string(s) : NULL);
}

void cr_json_add_int(json_object *obj, const char *key, long long v)
{
    json_object_object_add(obj, key, json_object_new_int64(v));
}

void cr_jw_begin(struct cr_jw *w, struct cr_arena *a, size_t cap)
{
    w->buf = w->p = cr_arena_alloc(a, cap);
    w->end = w->buf + cap;
    w->n = 0;
    *w->p++ = '{';
}

/* Room for n more bytes (and the closing "}\0"); once short, the writer stays short. */
static int cr_jw_room(struct cr_jw *w, size_t n)
{
    if (w->p == NULL || (size_t)(w->end - w->p) < n + 2) {
        w->p = NULL;
        return 0;
    }
    return 1;
}

static void cr_jw_key(struct cr_jw *w, const char *key)
{
    size_t n = strlen(key);
    if (!cr_jw_room(w, n + 4))
        return;
    if (w->n++ > 0)
        *w->p++ = ',';
    *w->p++ = '"';
    memcpy(w->p, key, n);
    w->p += n;
    *w->p++ = '"';
    *w->p++ = ':';
}

static void cr_jw_raw(struct cr_jw *w, const char *s, size_t n)
{
    if (!cr_jw_room(w, n))
        return;
    memcpy(w->p, s, n);
    w->p += n;
}

void cr_jw_str(struct cr_jw *w, const char *key, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    cr_jw_key(w, key);
    if (s == NULL) {
        cr_jw_raw(w, "null", 4);
        return;
    }
    cr_jw_raw(w, "\"", 1);
    while (*s != '\0') {
        /* a run of bytes that need no escape, copied at once */
        size_t n = 0;
        while (s[n] != '\0' && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20)
            n++;
        cr_jw_raw(w, s, n);
        s += n;
        if (*s == '\0')
            break;
        unsigned char c = (unsigned char)*s++;
        char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f'
                 : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        if (e != 0) {
            char esc[2] = {'\\', e};
            cr_jw_raw(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cr_jw_raw(w, esc, 6);
        }
    }
    cr_jw_raw(w, "\"", 1);
}

void cr_jw_int(struct cr_jw *w, const char *key, long long v)
{
    char d[CR_LLD_LEN];
    const char *p = cr_text_lld(d, v);
    cr_jw_key(w, key);
    cr_jw_raw(w, p, (size_t)(d + sizeof(d) - p));
}

void cr_jw_uuid(struct cr_jw *w, const char *key, const struct cr_uuid *u)
{
    char buf[CR_UUID_STRLEN];
    cr_jw_str(w, key, cr_uuid_format(u, buf));
}

void cr_jw_time(struct cr_jw *w, const char *key, long long ms)
{
    char buf[CR_TIME_LEN];
    cr_jw_str(w, key, cr_time_format(ms, buf));
}

const char *cr_jw_end(struct cr_jw *w)
{
    if (w->p == NULL || w->end - w->p < 2)
        return NULL;
    *w->p++ = '}';
    *w->p = '\0';
    return w->buf;
}

const char *cr_json_text(struct cr_arena *a, json_object *obj)
{
    return cr_arena_strdup(a, json_object_to_json_string_ext(
                                  obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
