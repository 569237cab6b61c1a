/* cr_route.c: segment-wise pattern matching and the request dispatcher. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_redis.h"
#include "cr_route.h"
#include "cr_token.h"

/* Matches path against pattern; captures go to params. Returns the number of captures or -1. */
static int cr_route_try(struct cr_arena *a, const char *pattern, const char *path,
                        const char **params)
{
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p != '\0' && *s != '\0') {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            if (se == NULL)
                se = s + strlen(s);
            if (pe == NULL || se == s || n >= CR_MAX_PARAMS)
                return -1;
            params[n++] = cr_arena_strndup(a, s, (size_t)(se - s));
            p = pe + 1;
            s = se;
        } else if (*p++ != *s++) {
            return -1;
        }
    }
    return (*p == '\0' && *s == '\0') ? n : -1;
}

enum cr_match cr_route_match(const struct cr_route *routes, size_t n, struct cr_req *req,
                             const struct cr_route **route, char *allow, size_t allowlen)
{
    const char *params[CR_MAX_PARAMS];
    int path_found = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int np = cr_route_try(req->arena, routes[i].pattern, req->path, params);
        if (np < 0)
            continue;
        if (strcmp(routes[i].method, req->method) == 0) {
            *route = &routes[i];
            memcpy(req->params, params, sizeof(params));
            req->nparams = np;
            return CR_MATCH_FOUND;
        }
        if (strstr(allow, routes[i].method) == NULL) {
            size_t used = strlen(allow);
            snprintf(allow + used, allowlen - used, "%s%s", path_found ? ", " : "",
                     routes[i].method);
        }
        path_found = 1;
    }
    return path_found ? CR_MATCH_METHOD : CR_MATCH_NOT_FOUND;
}

int cr_is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return 0;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static int cr_check_body(const struct cr_route *route, struct cr_req *req)
{
    if (req->content_length > CR_BODY_MAX)
        return CR_E_TOO_LARGE;
    if (route->body == CR_BODY_NONE)
        return CR_OK;
    if (req->body_len > 0 && !cr_is_json_type(req->content_type))
        return CR_E_MEDIA_TYPE;
    if (route->body == CR_BODY_REQUIRED && req->body_len == 0)
        return cr_fail(req, CR_E_INVALID, "a JSON body is required");
    return CR_OK;
}

/* Logs an error answer: a 5xx at level error (concert-alert reports it), a 4xx at info; with
 * the contract code and the detail (internal for a 5xx, never a token or an Idempotency-Key). */
static void cr_route_log(struct cr_req *req, int status, const char *code, const char *detail)
{
    const char *st = cr_arena_sprintf(req->arena, "%d", status);
    if (status >= 500)
        cr_log_kv(CR_LOG_ERROR, "request failed", "status", st, "code", code, "detail", detail,
                  "path", req->path, NULL);
    else
        cr_log_kv(CR_LOG_INFO, "request refused", "status", st, "code", code, "detail", detail,
                  "path", req->path, NULL);
}

/* Logs an error answer a handler wrote itself (the 503 of /healthz, a replayed 4xx), taking
 * its code and message from the body. */
static void cr_route_log_body(struct cr_req *req, const struct cr_resp *resp)
{
    json_object *o = resp->body, *parsed = NULL, *e, *v;
    const char *code = "", *msg = "";
    if (o == NULL && resp->raw != NULL)
        o = parsed = json_tokener_parse(resp->raw);
    if (o != NULL && json_object_object_get_ex(o, "error", &e)) {
        if (json_object_object_get_ex(e, "code", &v))
            code = cr_arena_strdup(req->arena, json_object_get_string(v));
        if (json_object_object_get_ex(e, "message", &v))
            msg = cr_arena_strdup(req->arena, json_object_get_string(v));
    }
    json_object_put(parsed);
    cr_route_log(req, resp->status, code, req->errmsg ? req->errmsg : msg);
}

static void (*cr_route_before_gate_fn)(const struct cr_route *route, struct cr_req *req);

void cr_route_before_gate(void (*fn)(const struct cr_route *route, struct cr_req *req))
{
    cr_route_before_gate_fn = fn;
}

void cr_dispatch(const struct cr_route *routes, size_t n, struct cr_req *req,
                 struct cr_resp *resp)
{
    const struct cr_route *route = NULL;
    char allow[64];
    int rc;

    /* Malformed text is refused before anything looks at it, so that no message, log line or
     * lookup below ever sees a NUL-cut value or bytes that are not UTF-8. */
    if ((rc = cr_req_check_text(req)) != CR_OK)
        goto fail;
    switch (cr_route_match(routes, n, req, &route, allow, sizeof(allow))) {
    case CR_MATCH_NOT_FOUND:
        rc = cr_fail(req, CR_E_NOT_FOUND, "no such route");
        goto fail;
    case CR_MATCH_METHOD:
        rc = cr_fail(req, CR_E_METHOD, "method not allowed here; allowed: %s", allow);
        cr_resp_error(req, resp, rc);
        cr_resp_header(resp, "Allow", cr_arena_strdup(req->arena, allow));
        goto log;
    case CR_MATCH_FOUND:
        break;
    }
    if (cr_route_before_gate_fn != NULL)
        cr_route_before_gate_fn(route, req);
    if (route->token != CR_TOKEN_NONE && (rc = cr_token_gate(req, route->token)) != CR_OK)
        goto fail;
    if ((rc = cr_check_body(route, req)) != CR_OK)
        goto fail;
    rc = route->handler(req, resp);
    if (rc == CR_OK) {
        if (resp->status >= 400)
            cr_route_log_body(req, resp);
        return;
    }
fail:
    cr_resp_error(req, resp, rc);
log:
    cr_route_log(req, resp->status, cr_error_info(rc)->code,
                 req->errdetail ? req->errdetail
                                : req->errmsg ? req->errmsg : cr_error_info(rc)->message);
}

int cr_health_handler(struct cr_req *req, struct cr_resp *resp)
{
    int db = cr_db_ping(), redis = cr_redis_ping();
    json_object *o = json_object_new_object();
    int ok = db == CR_OK && redis == CR_OK;
    json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "down"));
    json_object_object_add(o, "db", json_object_new_string(db == CR_OK ? "ok" : "down"));
    json_object_object_add(o, "redis", json_object_new_string(redis == CR_OK ? "ok" : "down"));
    if (!ok) {
        /* Also the contract's error object, so a client reading any 503 finds its code. */
        json_object *err = json_object_new_object();
        json_object_object_add(err, "code", json_object_new_string("SERVICE_UNAVAILABLE"));
        json_object_object_add(err, "message",
                               json_object_new_string(db != CR_OK ? "database unreachable"
                                                                  : "redis unreachable"));
        json_object_object_add(err, "requestId", json_object_new_string(req->request_id));
        json_object_object_add(o, "error", err);
        cr_resp_header(resp, "Retry-After",
                       cr_arena_sprintf(req->arena, "%lld", cr_config_int("RETRY_AFTER_SECONDS")));
    }
    return cr_resp_json(req, resp, ok ? 200 : 503, o);
}
