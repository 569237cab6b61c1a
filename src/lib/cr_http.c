/* cr_http.c: response building, error bodies, query and path parameter parsing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_http.h"
#include "cr_text.h"

static void cr_json_put_cb(void *p)
{
    json_object_put(p);
}

int cr_resp_json(struct cr_req *req, struct cr_resp *resp, int status, json_object *body)
{
    resp->status = status;
    resp->body = body;
    cr_arena_cleanup(req->arena, cr_json_put_cb, body);
    return 0;
}

void cr_resp_header(struct cr_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= CR_MAX_HEADERS)
        return;
    resp->headers[resp->nheaders][0] = name;
    resp->headers[resp->nheaders][1] = value;
    resp->nheaders++;
}

void cr_resp_error(struct cr_req *req, struct cr_resp *resp, int err)
{
    const struct cr_error_info *e = cr_error_info(err);
    /* A 5xx never shows a handler's message: it might carry internals. */
    const char *msg = (req->errmsg != NULL && e->status < 500) ? req->errmsg : e->message;
    /* Messages name fields, never echo client bytes; should one ever hold text that is not
     * clean UTF-8, the body says the generic message instead of passing it on. */
    if (!cr_text_clean(msg, strlen(msg)))
        msg = e->message;
    json_object *inner = json_object_new_object();
    json_object_object_add(inner, "code", json_object_new_string(e->code));
    json_object_object_add(inner, "message", json_object_new_string(msg));
    json_object_object_add(inner, "requestId",
                           json_object_new_string(req->request_id ? req->request_id : ""));
    json_object *outer = json_object_new_object();
    json_object_object_add(outer, "error", inner);
    resp->raw = NULL;
    resp->nheaders = 0;
    cr_resp_json(req, resp, e->status, outer);
    if (e->status == 503 || e->status == 429)
        cr_resp_header(resp, "Retry-After",
                       cr_arena_sprintf(req->arena, "%lld", cr_config_int("RETRY_AFTER_SECONDS")));
}

int cr_fail(struct cr_req *req, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    req->errmsg = cr_arena_strdup(req->arena, buf);
    return err;
}

static int cr_unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' of a query component of length n into an arena string. NULL when the
 * component is malformed (a '%' without two hex digits) or its decoded bytes are not clean
 * text (NUL, which would cut the value short, controls, invalid UTF-8). */
static char *cr_url_decode(struct cr_arena *a, const char *s, size_t n)
{
    char *out = cr_arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || cr_unhex(s[i + 1]) < 0 || cr_unhex(s[i + 2]) < 0)
                return NULL;
            *o++ = (char)(cr_unhex(s[i + 1]) << 4 | cr_unhex(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return cr_text_clean(out, (size_t)(o - out)) ? out : NULL;
}

int cr_req_query(struct cr_req *req, const char *name, const char **out)
{
    size_t nlen = strlen(name);
    const char *p = req->query ? req->query : "";
    *out = NULL;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            /* Two values would make one of them silently win (HTTP parameter pollution). */
            if (*out != NULL)
                return cr_fail(req, CR_E_INVALID, "%s is given more than once", name);
            *out = eq == NULL ? "" : cr_url_decode(req->arena, eq + 1, len - klen - 1);
            if (*out == NULL)
                return cr_fail(req, CR_E_INVALID, "%s is not a valid query value", name);
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return CR_OK;
}

/* 1 when s is absent or printable ASCII (tabs allowed): the headers the service parses. */
static int cr_header_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p != NULL && *p != '\0'; p++)
        if ((*p < 0x20 && *p != '\t') || *p >= 0x7f)
            return 0;
    return 1;
}

int cr_req_check_text(struct cr_req *req)
{
    const char *p = req->query ? req->query : "";
    if (req->path == NULL || !cr_text_clean(req->path, strlen(req->path)))
        return cr_fail(req, CR_E_INVALID, "the path is not valid UTF-8 text");
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (cr_url_decode(req->arena, p, klen) == NULL ||
            (eq != NULL && cr_url_decode(req->arena, eq + 1, len - klen - 1) == NULL))
            return cr_fail(req, CR_E_INVALID, "the query string is malformed");
        p += len;
        if (*p == '&')
            p++;
    }
    if (!cr_header_clean(req->content_type))
        return cr_fail(req, CR_E_INVALID, "the Content-Type header is malformed");
    return CR_OK;
}

int cr_req_param_uuid(struct cr_req *req, int idx, const char *what, struct cr_uuid *out)
{
    if (idx >= req->nparams || cr_uuid_parse(req->params[idx], out) != 0)
        return cr_fail(req, CR_E_INVALID, "%s must be a UUID", what);
    return CR_OK;
}

int cr_req_param_id(struct cr_req *req, int idx, const char *what, long long *out)
{
    const char *s = idx < req->nparams ? req->params[idx] : "";
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v <= 0)
        return cr_fail(req, CR_E_INVALID, "%s must be a positive integer", what);
    *out = v;
    return CR_OK;
}

int cr_is_safe_id(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64;
}
