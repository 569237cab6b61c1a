/* cr_json.c: strict JSON in, compact JSON out; every rejection names the field. */
#include <string.h>

#include "cr_error.h"
#include "cr_json.h"
#include "cr_time.h"

/* Returns 1 when text uses only RFC 8259 tokens outside strings and no raw control
 * characters inside them. json-c's strict mode still takes 'single-quoted' object keys,
 * NaN and Infinity, and raw control characters in strings. */
static int cr_json_lexically_strict(const char *text, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (in_str) {
            if (c < 0x20)
                return 0;
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '\0' || strchr("{}[]:,-+.0123456789eEtrufalsn \t\r\n", c) == NULL) {
            return 0;
        }
    }
    return 1;
}

int cr_json_parse(const char *text, size_t len, json_object **out)
{
    *out = NULL;
    if (len == 0 || len > CR_BODY_MAX || memchr(text, '\0', len) != NULL ||
        !cr_json_lexically_strict(text, len))
        return CR_E_INVALID;
    struct json_tokener *tok = json_tokener_new_ex(32);
    if (tok == NULL)
        return CR_E_INTERNAL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    size_t end = json_tokener_get_parse_end(tok);
    /* A number that ends the text ("2") is complete only once json-c is told the input
     * ended, by a terminating NUL (text need not have one). */
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        obj = json_tokener_parse_ex(tok, "", 1);
        end = len;
    }
    int rc = CR_OK;
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        rc = CR_E_INVALID;
    } else {
        /* Only whitespace may follow the value. */
        for (size_t i = end; i < len; i++)
            if (strchr(" \t\r\n", text[i]) == NULL)
                rc = CR_E_INVALID;
    }
    json_tokener_free(tok);
    if (rc != CR_OK) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return CR_OK;
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
    if (!json_object_is_type(v, json_type_string) ||
        cr_uuid_parse(json_object_get_string(v), out) != CR_OK)
        return cr_fail(req, CR_E_INVALID, "%s must be a UUID string", key);
    return CR_OK;
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

const char *cr_json_text(struct cr_arena *a, json_object *obj)
{
    return cr_arena_strdup(a, json_object_to_json_string_ext(
                                  obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
