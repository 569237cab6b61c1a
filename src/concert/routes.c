/* routes.c: the concert group: concerts, upcoming schedules and seat maps (API.md 8-10). */
#include <stdlib.h>
#include <string.h>

#include "cr_catalog.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_ops.h"
#include "cr_time.h"
#include "routes.h"

/* GET /api/v1/concerts: every concert, ordered by id. */
static int concert_list(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_concert *c;
    int n, rc;
    if ((rc = cr_catalog_concerts(req->arena, &c, &n)) != CR_OK)
        return rc;
    json_object *list = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        cr_json_add_int(o, "concertId", c[i].id);
        cr_json_add_str(o, "title", c[i].title);
        cr_json_add_str(o, "venue", c[i].venue);
        json_object_array_add(list, o);
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "concerts", list);
    return cr_resp_json(req, resp, 200, body);
}

/* GET /api/v1/concerts/{concertId}/schedules[?available=true|false]: upcoming, earliest
 * first. */
static int concert_schedules(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_schedule *s;
    long long concert_id;
    int n, rc, available_only = 0;
    if ((rc = cr_req_param_id(req, 0, "concertId", &concert_id)) != CR_OK)
        return rc;
    const char *avail;
    if ((rc = cr_req_query(req, "available", &avail)) != CR_OK)
        return rc;
    if (avail != NULL) {
        if (strcmp(avail, "true") == 0)
            available_only = 1;
        else if (strcmp(avail, "false") != 0)
            return cr_fail(req, CR_E_INVALID, "available must be true or false");
    }
    rc = cr_catalog_schedules(req->arena, concert_id, cr_time_now_ms(), available_only, &s, &n);
    if (rc != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "concert %lld not found", concert_id) : rc;
    json_object *list = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        cr_json_add_int(o, "scheduleId", s[i].id);
        cr_json_add_time(o, "startsAt", s[i].starts_at);
        cr_json_add_time(o, "salesOpenAt", s[i].sales_open_at);
        cr_json_add_int(o, "totalSeats", s[i].total_seats);
        cr_json_add_int(o, "availableSeats", s[i].available_seats);
        json_object_array_add(list, o);
    }
    json_object *body = json_object_new_object();
    cr_json_add_int(body, "concertId", concert_id);
    json_object_object_add(body, "schedules", list);
    return cr_resp_json(req, resp, 200, body);
}

/* GET /api/v1/schedules/{scheduleId}/seats: the seat map, ordered by seat number. */
static int concert_seats(struct cr_req *req, struct cr_resp *resp)
{
    const char *text;
    long long schedule_id;
    int rc;
    if ((rc = cr_req_param_id(req, 0, "scheduleId", &schedule_id)) != CR_OK)
        return rc;
    rc = cr_catalog_seats_text(req->arena, schedule_id, cr_time_now_ms(), &text);
    if (rc != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "schedule %lld not found", schedule_id) : rc;
    resp->status = 200;
    resp->raw = text;
    return CR_OK;
}

/* Before the gate of a seat map: its generation's read rides with the token's (one Redis
 * round trip for both). Only a well-formed id is read; the handler judges the rest. */
void concert_before_gate(const struct cr_route *route, struct cr_req *req)
{
    char *end = NULL;
    if (route->handler != concert_seats || req->nparams < 1 || req->params[0][0] == '\0' ||
        req->params[0][0] == '-')
        return;
    long long id = strtoll(req->params[0], &end, 10);
    if (*end == '\0' && id > 0)
        cr_catalog_seats_prefetch(req->arena, id);
}

/* GET /metrics: the Prometheus exposition of every group (nginx lets only loopback in). */
static int concert_metrics(struct cr_req *req, struct cr_resp *resp)
{
    int rc = cr_ops_metrics_text(req->arena, &resp->raw);
    if (rc != CR_OK)
        return rc;
    resp->status = 200;
    resp->content_type = CR_OPS_CONTENT_TYPE;
    return CR_OK;
}

const struct cr_route concert_routes[] = {
    {"GET", "/api/v1/concerts", CR_TOKEN_NONE, CR_BODY_NONE, concert_list},
    {"GET", "/api/v1/concerts/{concertId}/schedules", CR_TOKEN_READ_ACTIVE, CR_BODY_NONE,
     concert_schedules},
    {"GET", "/api/v1/schedules/{scheduleId}/seats", CR_TOKEN_READ_ACTIVE, CR_BODY_NONE,
     concert_seats},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t concert_nroutes = sizeof(concert_routes) / sizeof(concert_routes[0]);

/* The operations endpoints this group serves besides the API (API.md "Pages and operations
 * endpoints"); not in docs/openapi.yaml, which describes the API. */
const struct cr_route concert_ops_routes[] = {
    {"GET", "/metrics", CR_TOKEN_NONE, CR_BODY_NONE, concert_metrics},
};
const size_t concert_nops = sizeof(concert_ops_routes) / sizeof(concert_ops_routes[0]);
