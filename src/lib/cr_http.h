/* cr_http.h: the parsed request and the response a handler builds, free of FastCGI. */
#ifndef CR_HTTP_H
#define CR_HTTP_H

#include <stddef.h>
#include <json-c/json.h>

#include "cr_arena.h"
#include "cr_uuid.h"

#define CR_BODY_MAX 16384
#define CR_MAX_PARAMS 4
#define CR_MAX_HEADERS 8

/* What the token gate learned about the caller (see cr_token.h). */
struct cr_caller {
    const char *token;   /* the bearer token, NULL when none was checked */
    struct cr_uuid user; /* the token's user */
    int active;          /* 1 when the token is admitted */
    int used;            /* 1 when the token was spent by a payment (the gate refused it) */
};

/* One request, parsed once. Every string lives in the arena (or the FastCGI environment) and
 * is valid until the request ends. */
struct cr_req {
    struct cr_arena *arena;
    const char *method;
    const char *path;
    const char *query;        /* raw query string without '?', "" when none */
    const char *content_type; /* NULL when absent */
    const char *authorization;
    const char *idempotency_key;
    const char *request_id;
    const char *request_start; /* nginx's $msec when it took the request; NULL when absent */
    long long content_length; /* -1 when absent */
    const char *body;         /* NUL-terminated; body_len bytes */
    size_t body_len;
    const char *params[CR_MAX_PARAMS]; /* {param} captures of the matched route, in order */
    int nparams;
    struct cr_caller caller;
    const char *errmsg;    /* public message of the error being returned, NULL: default */
    const char *errdetail; /* internal detail for the log only */
    /* Work that must not delay the answer: run once the response is sent, before the arena
     * is reset (so ctx may live in it). Its failures can only be logged. */
    void (*after)(struct cr_req *req, void *ctx);
    void *after_ctx;
};

struct cr_resp {
    int status;        /* 0 until set */
    json_object *body; /* owned by the response (put on reset); NULL for no body */
    const char *raw;   /* an already-serialised JSON body, used instead of body when set */
    const char *content_type; /* of raw, when it is not JSON (GET /metrics); NULL: JSON */
    const char *headers[CR_MAX_HEADERS][2];
    int nheaders;
};

/* Sets status and body; the response takes ownership of body. Returns CR_OK. */
int cr_resp_json(struct cr_req *req, struct cr_resp *resp, int status, json_object *body);
/* Adds a header; name and value must outlive the response (literals or arena strings). */
void cr_resp_header(struct cr_resp *resp, const char *name, const char *value);
/* Fills resp with the contract's error body for err (status, code, message, requestId). */
void cr_resp_error(struct cr_req *req, struct cr_resp *resp, int err);

/* Records a public message for the error about to be returned and returns err, so that a
 * handler can write: return cr_fail(req, CR_E_INVALID, "amount must be ..."). */
int cr_fail(struct cr_req *req, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets *out to the decoded value of the query parameter name (arena-owned; "" for a bare
 * "name"), or NULL when absent. Returns CR_OK, or CR_E_INVALID with a message when the
 * parameter is given twice or its value is malformed or not clean text (see cr_text.h). */
int cr_req_query(struct cr_req *req, const char *name, const char **out);

/* Refuses a request whose path, query string (every key and value, percent-decoded) or
 * Content-Type header holds a NUL, a control character, invalid UTF-8 (or, in the header,
 * anything but printable ASCII), or a malformed %-escape: CR_E_INVALID with a message that
 * does not repeat the bytes. The dispatcher runs it before routing. */
int cr_req_check_text(struct cr_req *req);

/* Parses the idx-th path parameter as a UUID or a positive 63-bit id; on failure records
 * a message and returns CR_E_INVALID. */
int cr_req_param_uuid(struct cr_req *req, int idx, const char *what, struct cr_uuid *out);
int cr_req_param_id(struct cr_req *req, int idx, const char *what, long long *out);

/* Returns 1 when s is 1 to 64 characters of [A-Za-z0-9_-] (request ids, idempotency keys). */
int cr_is_safe_id(const char *s);

#endif
