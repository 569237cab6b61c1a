/* routes.c: the reservation group: hold a seat, read, cancel and refund a reservation (API.md
 * 11-13, 17). */
#include <stdint.h>

#include "cr_catalog.h"
#include "cr_config.h"
#include "cr_error.h"
#include "cr_hold.h"
#include "cr_json.h"
#include "cr_refund.h"
#include "cr_metrics.h"
#include "cr_time.h"
#include "cr_user.h"
#include "routes.h"

/* The internal id of the token's user. The gate vouched for the token, so a user that is
 * not there means the token is no good. */
static int reservation_caller(struct cr_req *req, long long *user_id)
{
    int rc = cr_user_find(req->arena, &req->caller.user, user_id);
    if (rc == CR_E_NOT_FOUND)
        return cr_fail(req, CR_E_TOKEN_INVALID, "the token's user does not exist");
    return rc;
}

/* POST /api/v1/reservations {"scheduleId", "seatNo"}: 201 for a new hold, 200 for the
 * caller's existing hold of that seat. */
static int reservation_hold(struct cr_req *req, struct cr_resp *resp)
{
    json_object *body;
    long long schedule_id, seat_no, user_id;
    struct cr_hold h;
    int created = 0, rc;
    /* Any positive number is well formed; one past the schedule's last seat is a 404. */
    if ((rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_json_int(req, body, "scheduleId", 1, INT64_MAX, &schedule_id)) != CR_OK ||
        (rc = cr_json_int(req, body, "seatNo", 1, INT64_MAX, &seat_no)) != CR_OK)
        return rc;
    long long now = cr_time_now_ms();
    /* In a rush nearly every request is for a seat already gone: when this worker's current
     * copy of the seat map says so (cr_catalog_seat_taken: one Redis GET, no MariaDB), the
     * 409 is given without the user lookup and the transaction. It only ever refuses what
     * the last committed write shows taken; anything else goes to cr_hold_seat. */
    if (cr_catalog_seat_taken(req->arena, schedule_id, seat_no, &req->caller.user, now))
        rc = CR_E_SEAT_UNAVAILABLE;
    else if ((rc = reservation_caller(req, &user_id)) != CR_OK)
        return rc;
    else
        rc = cr_hold_seat(req->arena, &req->caller.user, user_id, schedule_id, seat_no, now,
                          cr_config_int("RESERVATION_HOLD_SECONDS") * 1000,
                          (int)cr_config_int("RESERVATION_MAX_HOLDS"), &h, &created);
    switch (rc) {
    case CR_OK:
        if (created)
            cr_metrics_inc(CR_M_HOLDS_HELD);
        return cr_resp_json(req, resp, created ? 201 : 200, cr_hold_json(&h));
    case CR_E_NOT_FOUND:
        return cr_fail(req, rc, "schedule %lld has no seat %lld", schedule_id, seat_no);
    case CR_E_SEAT_UNAVAILABLE:
        cr_metrics_inc(CR_M_HOLDS_LOST);
        return cr_fail(req, rc, "seat %lld of schedule %lld is held or sold", seat_no,
                       schedule_id);
    case CR_E_SALES_NOT_OPEN:
        return cr_fail(req, rc, "sales for schedule %lld are not open yet", schedule_id);
    case CR_E_HOLD_LIMIT:
        return cr_fail(req, rc, "you already hold %lld seats",
                       cr_config_int("RESERVATION_MAX_HOLDS"));
    default:
        return rc;
    }
}

/* GET /api/v1/reservations/{reservationId}: the caller's reservation. */
static int reservation_get(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid id;
    struct cr_hold h;
    long long user_id;
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "reservationId", &id)) != CR_OK ||
        (rc = reservation_caller(req, &user_id)) != CR_OK)
        return rc;
    rc = cr_hold_get(req->arena, &id, &req->caller.user, user_id, cr_time_now_ms(), &h);
    if (rc == CR_E_NOT_FOUND)
        return cr_fail(req, rc, "no such reservation");
    if (rc == CR_E_FORBIDDEN)
        return cr_fail(req, rc, "this reservation belongs to another user");
    if (rc != CR_OK)
        return rc;
    return cr_resp_json(req, resp, 200, cr_hold_json(&h));
}

/* DELETE /api/v1/reservations/{reservationId}: gives a hold back; 204 also when it is
 * already over. */
static int reservation_cancel(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid id;
    long long user_id;
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "reservationId", &id)) != CR_OK ||
        (rc = reservation_caller(req, &user_id)) != CR_OK)
        return rc;
    rc = cr_hold_cancel(req->arena, &id, user_id, cr_time_now_ms());
    if (rc == CR_E_NOT_FOUND)
        return cr_fail(req, rc, "no such reservation");
    if (rc == CR_E_FORBIDDEN)
        return cr_fail(req, rc, "this reservation belongs to another user");
    if (rc == CR_E_ALREADY_PAID)
        return cr_fail(req, rc, "this reservation is paid and cannot be cancelled");
    if (rc != CR_OK)
        return rc;
    resp->status = 204;
    return CR_OK;
}

/* Runs after the 200 is sent: the payment history's refunded amount, from the outbox. */
static void reservation_refund_history(struct cr_req *req, void *ctx)
{
    cr_refund_write_history(req->arena, ctx, cr_config_int("TEST_FAIL_HISTORY") != 0);
}

/* POST /api/v1/reservations/{reservationId}/refund (a body is ignored): 200 with the
 * reservation REFUNDED; also when it was refunded before. */
static int reservation_refund(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid id;
    struct cr_refund *r;
    long long user_id;
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "reservationId", &id)) != CR_OK ||
        (rc = reservation_caller(req, &user_id)) != CR_OK)
        return rc;
    r = cr_arena_alloc(req->arena, sizeof(*r));
    rc = cr_refund(req->arena, &id, &req->caller.user, user_id, cr_time_now_ms(),
                   cr_config_int("REFUND_DEADLINE_HOURS") * 3600 * 1000, r);
    switch (rc) {
    case CR_OK:
        break;
    case CR_E_NOT_FOUND:
        return cr_fail(req, rc, "no such reservation");
    case CR_E_FORBIDDEN:
        return cr_fail(req, rc, "this reservation belongs to another user");
    case CR_E_NOT_PAID:
        return cr_fail(req, rc, "this reservation is %s and was never paid",
                       cr_hold_status_name(r->hold.status));
    case CR_E_REFUND_CLOSED:
        return cr_fail(req, rc, "refunds close %lld hours before the show",
                       cr_config_int("REFUND_DEADLINE_HOURS"));
    default:
        return rc;
    }
    if (r->refunded) {
        cr_metrics_inc(CR_M_REFUNDS);
        req->after = reservation_refund_history;
        req->after_ctx = r;
    }
    return cr_resp_json(req, resp, 200, cr_hold_json(&r->hold));
}

const struct cr_route reservation_routes[] = {
    {"POST", "/api/v1/reservations", CR_TOKEN_ACTIVE, CR_BODY_REQUIRED, reservation_hold},
    {"GET", "/api/v1/reservations/{reservationId}", CR_TOKEN_READ_VALID, CR_BODY_NONE,
     reservation_get},
    {"DELETE", "/api/v1/reservations/{reservationId}", CR_TOKEN_VALID, CR_BODY_NONE,
     reservation_cancel},
    /* Body NONE: the contract ignores a body here, whatever its type. */
    {"POST", "/api/v1/reservations/{reservationId}/refund", CR_TOKEN_VALID, CR_BODY_NONE,
     reservation_refund},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t reservation_nroutes = sizeof(reservation_routes) / sizeof(reservation_routes[0]);
