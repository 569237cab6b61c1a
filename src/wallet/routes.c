/* routes.c: the wallet group: users, balance, charge and balance history (API.md 1-4). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_idem.h"
#include "cr_json.h"
#include "cr_queue.h"
#include "cr_user.h"
#include "cr_wallet.h"
#include "routes.h"

#define WALLET_HISTORY_DEFAULT 20

/* Parses s as a decimal integer of digits only in [min, max]; 0 when it is not one. */
static int wallet_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* The path's {userId} as the user's internal id: 400 when malformed, 404 when unknown. */
static int wallet_user(struct cr_req *req, struct cr_uuid *u, long long *id)
{
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "userId", u)) != CR_OK)
        return rc;
    if ((rc = cr_user_find(req->arena, u, id)) != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "no such user") : rc;
    return CR_OK;
}

/* POST /api/v1/users with {} or no body: 201 {"userId", "balance": 0}. */
static int wallet_create_user(struct cr_req *req, struct cr_resp *resp)
{
    json_object *body;
    struct cr_uuid u;
    int rc;
    if ((rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_wallet_create_user(&u)) != CR_OK)
        return rc;
    /* So that the user's first queue join needs no MariaDB lookup; when Redis is down the
     * join looks the user up itself, so a failure here changes nothing. */
    cr_queue_know_user(req->arena, &u);
    return cr_resp_json(req, resp, 201, cr_wallet_balance_json(&u, 0));
}

/* GET /api/v1/users/{userId}/balance: 200 {"userId", "balance"}. */
static int wallet_balance(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid u;
    long long balance;
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "userId", &u)) != CR_OK)
        return rc;
    if ((rc = cr_wallet_balance(req->arena, &u, &balance)) != CR_OK)
        return rc == CR_E_NOT_FOUND ? cr_fail(req, rc, "no such user") : rc;
    return cr_resp_json(req, resp, 200, cr_wallet_balance_json(&u, balance));
}

/* POST /api/v1/users/{userId}/balance/charge {"amount"} [Idempotency-Key]: 200 with the new
 * balance; a repeat with the same key gets the first response. */
static int wallet_charge(struct cr_req *req, struct cr_resp *resp)
{
    json_object *body;
    struct cr_uuid u;
    struct cr_idem idem;
    long long id, amount, balance;
    const char *text;
    int rc;
    if ((rc = cr_req_param_uuid(req, 0, "userId", &u)) != CR_OK ||
        (rc = cr_idem_check_key(req)) != CR_OK || (rc = cr_json_body(req, &body)) != CR_OK ||
        (rc = cr_json_int(req, body, "amount", 1, CR_WALLET_CHARGE_MAX, &amount)) != CR_OK)
        return rc;
    /* The internal id is needed first only to claim an Idempotency-Key; without one, the
     * charge's transaction finds the user by its UUID (one round trip less). */
    id = 0;
    if (req->idempotency_key != NULL && (rc = wallet_user(req, &u, &id)) != CR_OK)
        return rc;
    const char *fingerprint = cr_arena_sprintf(req->arena, "amount=%lld", amount);
    if ((rc = cr_idem_begin(req, resp, id, "charge", fingerprint, &idem)) != CR_OK ||
        idem.replayed)
        return rc;
    long long max = cr_config_int("BALANCE_MAX");
    rc = cr_wallet_charge(req->arena, &u, id, amount, max, &idem, &balance, &text);
    if (rc == CR_E_BALANCE_LIMIT)
        cr_fail(req, rc, "the charge would take the balance over %lld", max);
    if (rc == CR_E_NOT_FOUND) /* only without a key: nothing was claimed */
        return cr_fail(req, rc, "no such user");
    if (rc != CR_OK)
        return cr_idem_fail(req, &idem, rc);
    resp->status = 200;
    resp->raw = text; /* exactly the bytes recorded for a replay */
    return CR_OK;
}

/* GET /api/v1/users/{userId}/balance/history[?limit=&before=]: newest first, keyset-paged. */
static int wallet_history(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_uuid u;
    struct cr_wallet_entry *e;
    long long id, limit = WALLET_HISTORY_DEFAULT, before = 0, next;
    int n, rc;
    if ((rc = cr_req_param_uuid(req, 0, "userId", &u)) != CR_OK)
        return rc;
    const char *s;
    if ((rc = cr_req_query(req, "limit", &s)) != CR_OK)
        return rc;
    if (s != NULL && !wallet_parse_int(s, 1, CR_WALLET_HISTORY_MAX, &limit))
        return cr_fail(req, CR_E_INVALID, "limit must be an integer from 1 to %d",
                       CR_WALLET_HISTORY_MAX);
    if ((rc = cr_req_query(req, "before", &s)) != CR_OK)
        return rc;
    if (s != NULL && !wallet_parse_int(s, 1, INT64_MAX, &before))
        return cr_fail(req, CR_E_INVALID, "before must be an entry id from a previous page");
    if ((rc = wallet_user(req, &u, &id)) != CR_OK ||
        (rc = cr_wallet_history(req->arena, id, before, (int)limit, &e, &n, &next)) != CR_OK)
        return rc;
    json_object *list = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        cr_json_add_str(o, "id", cr_arena_sprintf(req->arena, "%lld", e[i].id));
        cr_json_add_str(o, "type", e[i].type);
        cr_json_add_int(o, "amount", e[i].amount);
        cr_json_add_int(o, "balanceAfter", e[i].balance_after);
        cr_json_add_time(o, "createdAt", e[i].created_at);
        json_object_array_add(list, o);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "entries", list);
    cr_json_add_str(out, "next", next > 0 ? cr_arena_sprintf(req->arena, "%lld", next) : NULL);
    return cr_resp_json(req, resp, 200, out);
}

const struct cr_route wallet_routes[] = {
    {"POST", "/api/v1/users", CR_TOKEN_NONE, CR_BODY_OPTIONAL, wallet_create_user},
    {"GET", "/api/v1/users/{userId}/balance", CR_TOKEN_NONE, CR_BODY_NONE, wallet_balance},
    {"POST", "/api/v1/users/{userId}/balance/charge", CR_TOKEN_NONE, CR_BODY_REQUIRED,
     wallet_charge},
    {"GET", "/api/v1/users/{userId}/balance/history", CR_TOKEN_NONE, CR_BODY_NONE,
     wallet_history},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t wallet_nroutes = sizeof(wallet_routes) / sizeof(wallet_routes[0]);
