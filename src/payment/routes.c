/* routes.c: the payment group: paying held reservations and the payment history (API.md
 * 14-15). */
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_idem.h"
#include "cr_json.h"
#include "cr_metrics.h"
#include "cr_payment.h"
#include "cr_time.h"
#include "cr_user.h"
#include "routes.h"

#define PAYMENT_IDEM_ENDPOINT "payment"

/* {"reservationIds": [1 to 4 different UUID strings]} into ids. */
static int payment_parse(struct cr_req *req, struct cr_uuid *ids, int *n)
{
    json_object *body, *arr;
    int rc;
    if ((rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_json_array(req, body, "reservationIds", 1, CR_PAYMENT_MAX_IDS, &arr)) != CR_OK)
        return rc;
    *n = (int)json_object_array_length(arr);
    for (int i = 0; i < *n; i++) {
        json_object *v = json_object_array_get_idx(arr, (size_t)i);
        /* The length too: the C string of "<uuid>\u0000junk" is the uuid alone. */
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 36 ||
            cr_uuid_parse(json_object_get_string(v), &ids[i]) != CR_OK)
            return cr_fail(req, CR_E_INVALID, "reservationIds[%d] must be a UUID string", i);
    }
    if (cr_payment_check_ids(ids, *n) != CR_OK)
        return cr_fail(req, CR_E_INVALID, "reservationIds must not name a reservation twice");
    return CR_OK;
}

/* The refusal the token earns when there is nothing to replay for it. */
static int payment_token_refusal(struct cr_req *req)
{
    if (req->caller.used)
        return cr_fail(req, CR_E_TOKEN_INVALID, "the queue token was used by a payment");
    return cr_fail(req, CR_E_TOKEN_NOT_ACTIVE, "the queue token is still waiting in line");
}

/* Runs after the 201 is sent: the payment's history row, from its outbox row. */
static void payment_write_history(struct cr_req *req, void *ctx)
{
    cr_payment_write_history(req->arena, ctx, cr_config_int("TEST_FAIL_HISTORY") != 0);
}

/* POST /api/v1/payments {"reservationIds"} [Idempotency-Key]: 201 with the payment.
 * The route lets spent tokens through (CR_TOKEN_SPENT_OK) only so that a payment repeated
 * with its Idempotency-Key gets its recorded answer: a spent or waiting token gets a
 * recorded response of this user's or its 401/403, never a new payment. */
static int payment_pay(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid ids[CR_PAYMENT_MAX_IDS];
    struct cr_payment pay;
    struct cr_idem idem;
    const char *text;
    long long user_id;
    int n = 0, rc;
    int may_pay = !req->caller.used && req->caller.active;

    /* The gate would have refused a spent or waiting token before looking at the body. */
    if ((rc = cr_idem_check_key(req)) != CR_OK || (rc = payment_parse(req, ids, &n)) != CR_OK)
        return may_pay ? rc : payment_token_refusal(req);
    if ((rc = cr_user_find(req->arena, &req->caller.user, &user_id)) != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, CR_E_TOKEN_INVALID, "the token's user is gone")
                                    : rc;
    const char *fingerprint = cr_payment_fingerprint(req->arena, ids, n);
    if (!may_pay) {
        rc = cr_idem_lookup(req, resp, user_id, PAYMENT_IDEM_ENDPOINT, fingerprint, &idem);
        if (rc == CR_OK || cr_error_info(rc)->status >= 500)
            return rc; /* the recorded response, or the database is down */
        return payment_token_refusal(req);
    }
    if ((rc = cr_idem_begin(req, resp, user_id, PAYMENT_IDEM_ENDPOINT, fingerprint, &idem)) !=
        CR_OK)
        return rc;
    if (idem.replayed) {
        /* A replay leaves the token as spent as the first answer did, also when the first
         * request died after its COMMIT, before giving the token back. */
        if (resp->status == 201)
            cr_payment_settle_token(req->arena, req->caller.token);
        return CR_OK;
    }
    rc = cr_payment_pay(req->arena, &req->caller.user, user_id, req->caller.token, ids, n,
                        cr_time_now_ms(), &idem, &pay, &text);
    if (rc != CR_OK) {
        if (pay.reason != NULL)
            cr_fail(req, rc, "%s", pay.reason);
        if (pay.token_spent)
            cr_payment_settle_token(req->arena, req->caller.token);
        return cr_idem_fail(req, &idem, rc);
    }
    /* Committed: from here nothing can fail the request. The history row is written once
     * the answer is out (the outbox and concert-expire cover a failure there). */
    cr_payment_release_token(req->arena, req->caller.token, &pay);
    struct cr_payment *done = cr_arena_alloc(req->arena, sizeof(*done));
    *done = pay;
    req->after = payment_write_history;
    req->after_ctx = done;
    cr_metrics_inc(CR_M_PAYMENTS);
    resp->status = 201;
    resp->raw = text; /* exactly the bytes recorded for a replay */
    return CR_OK;
}

/* GET /api/v1/users/{userId}/payments: 200 {"payments": [...]}, newest first, from the
 * history the outbox writes. The contract has no paging, so the newest
 * CR_PAYMENT_LIST_MAX (100) are returned and older ones are not shown. */
static int payment_list(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_payment_item *items;
    struct cr_uuid u;
    json_object *list = NULL;
    long long user_id;
    int n, rc;
    if ((rc = cr_req_param_uuid(req, 0, "userId", &u)) != CR_OK)
        return rc;
    if ((rc = cr_user_find(req->arena, &u, &user_id)) != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "no such user") : rc;
    cr_payment_flush_history(req->arena, user_id, cr_config_int("TEST_FAIL_HISTORY") != 0);
    if ((rc = cr_payment_list(req->arena, user_id, &items, &n)) != CR_OK)
        return rc;
    list = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *ids = NULL;
        const char *text = items[i].reservation_ids;
        if ((rc = cr_json_parse(text, strlen(text), &ids)) != CR_OK) {
            rc = CR_E_INTERNAL; /* we wrote that text ourselves */
            goto out;
        }
        json_object *o = json_object_new_object();
        cr_json_add_uuid(o, "paymentId", &items[i].id);
        json_object_object_add(o, "reservationIds", ids);
        cr_json_add_int(o, "amount", items[i].amount);
        cr_json_add_int(o, "refundedAmount", items[i].refunded);
        cr_json_add_time(o, "paidAt", items[i].paid_at);
        json_object_array_add(list, o);
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "payments", list);
    list = NULL;
    rc = cr_resp_json(req, resp, 200, body);
out:
    json_object_put(list);
    return rc;
}

const struct cr_route payment_routes[] = {
    /* Body OPTIONAL: the handler refuses a missing body itself (400, "reservationIds is
     * required"), after a spent or waiting token's 401/403, as a gate would order them. */
    {"POST", "/api/v1/payments", CR_TOKEN_SPENT_OK, CR_BODY_OPTIONAL, payment_pay},
    {"GET", "/api/v1/users/{userId}/payments", CR_TOKEN_NONE, CR_BODY_NONE, payment_list},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t payment_nroutes = sizeof(payment_routes) / sizeof(payment_routes[0]);
