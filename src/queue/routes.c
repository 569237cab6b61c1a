/* routes.c: the queue group: join the line, poll a place, give it back (API.md 5-7). */
#include "cr_error.h"
#include "cr_json.h"
#include "cr_queue.h"
#include "cr_user.h"
#include "routes.h"

/* The ticket's answer, written directly (a join is the request a crowd sends first). */
static int queue_ticket_resp(struct cr_req *req, struct cr_resp *resp, int status,
                             const struct cr_queue_ticket *t)
{
    struct cr_jw w;
    cr_jw_begin(&w, req->arena, sizeof(t->token) + 256);
    cr_jw_str(&w, "token", t->token);
    cr_jw_uuid(&w, "userId", &t->user);
    cr_jw_str(&w, "status", t->active ? "ACTIVE" : "WAITING");
    cr_jw_int(&w, "position", t->active ? 0 : t->position);
    cr_jw_int(&w, "estimatedWaitSeconds", t->active ? 0 : t->wait_seconds);
    cr_jw_time(&w, "expiresAt", t->expires_at);
    if ((resp->raw = cr_jw_end(&w)) == NULL)
        return CR_E_INTERNAL;
    resp->status = status;
    return CR_OK;
}

/* POST /api/v1/queue/tokens {"userId"}: 201 for a new token, 200 for the user's live one. */
static int queue_join(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid user;
    struct cr_queue_ticket t;
    long long id;
    int rc;
    if ((rc = cr_json_body_uuid(req, "userId", &user)) != CR_OK)
        return rc;
    /* Redis's set of known users answers for almost every user; MariaDB only for one the
     * line has not seen yet (bench/RESULTS.md: the lookup was a third of a join's cost). */
    rc = cr_queue_join(req->arena, &user, 0, &t);
    if (rc == CR_E_NOT_FOUND) {
        if ((rc = cr_user_find(req->arena, &user, &id)) != CR_OK)
            return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "no such user") : rc;
        rc = cr_queue_join(req->arena, &user, 1, &t);
    }
    if (rc != CR_OK)
        return rc;
    return queue_ticket_resp(req, resp, t.created ? 201 : 200, &t);
}

/* GET /api/v1/queue/tokens/current: the caller's place, recomputed now. */
static int queue_current(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_queue_ticket t;
    int rc = cr_queue_poll(req->arena, req->caller.token, &t);
    if (rc != CR_OK)
        return rc;
    return queue_ticket_resp(req, resp, 200, &t);
}

/* DELETE /api/v1/queue/tokens/current: leave the line or give the active place back. */
static int queue_leave(struct cr_req *req, struct cr_resp *resp)
{
    int rc = cr_queue_leave(req->arena, req->caller.token, 0);
    if (rc != CR_OK)
        return rc;
    resp->status = 204;
    return CR_OK;
}

const struct cr_route queue_routes[] = {
    {"POST", "/api/v1/queue/tokens", CR_TOKEN_NONE, CR_BODY_REQUIRED, queue_join},
    {"GET", "/api/v1/queue/tokens/current", CR_TOKEN_VALID, CR_BODY_NONE, queue_current},
    {"DELETE", "/api/v1/queue/tokens/current", CR_TOKEN_VALID, CR_BODY_NONE, queue_leave},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t queue_nroutes = sizeof(queue_routes) / sizeof(queue_routes[0]);
