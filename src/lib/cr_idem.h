/* cr_idem.h: the Idempotency-Key of API.md, stored in MariaDB, shared by charge and payment.
 *
 * How an endpoint uses it (charge in src/wallet/routes.c is the model):
 *
 *     struct cr_idem idem;
 *     if ((rc = cr_idem_check_key(req)) != CR_OK) ...              400 before any other work
 *     ... parse the body, find the user ...
 *     rc = cr_idem_begin(req, resp, user_id, "payment", "ids=...", &idem);
 *     if (rc != CR_OK || idem.replayed) return rc;                  409s, or resp already filled
 *     rc = cr_db_txn(work, &ctx);   where work() ends with
 *                                   cr_idem_finish_in_txn(&idem, 201, body_text)
 *     if (rc != CR_OK) return cr_idem_fail(req, &idem, rc);        records a 4xx, forgets a 5xx
 *     resp->status = 201; resp->raw = body_text;                    the exact recorded bytes
 *
 * Without an Idempotency-Key header every call is a cheap no-op (idem.key is NULL), so the
 * endpoint has one code path.
 *
 * Ownership: struct cr_idem is the caller's (on its stack); the strings it points to, and the
 * replayed body put in resp->raw, live in the request's arena. The fingerprint and the body
 * text are copied or hashed before the functions return. */
#ifndef CR_IDEM_H
#define CR_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "cr_http.h"

#define CR_IDEM_ENDPOINT_MAX 32
#define CR_IDEM_STALE_MS 30000LL       /* an IN_PROGRESS row this old was abandoned, even
                                        * if its session still looks alive */
#define CR_IDEM_TTL_MS 86400000LL      /* a row this old is forgotten (24 h) */

/* One request's claim on (user, key). */
struct cr_idem {
    const char *key;      /* the Idempotency-Key, NULL when the request has none */
    long long user_id;    /* internal users.id the key is scoped to */
    const char *endpoint; /* "charge", "payment": part of the fingerprint */
    uint8_t hash[32];     /* SHA-256 of endpoint and the canonical parsed request */
    long long stamp;      /* created_at (ms) we wrote: proves the row is still ours */
    int replayed;         /* 1: resp holds the recorded response, do no work */
    int lost;             /* 1: another request took the row over; leave it alone */
};

/* Returns CR_OK when the request has no Idempotency-Key or a well-formed one (1 to 64
 * characters of [A-Za-z0-9_-]); otherwise CR_E_INVALID with a message. */
int cr_idem_check_key(struct cr_req *req);

/* Claims the request's key for user_id before the work runs. fingerprint is a canonical
 * string of the parsed request fields (e.g. "amount=1000"; list set-like fields in a fixed
 * order, e.g. sorted reservation ids); two requests are "the same" when endpoint and
 * fingerprint are equal, whatever their bytes on the wire. The claim (an IN_PROGRESS row) is committed on its own,
 * so concurrent repeats see it at once.
 * Returns CR_OK with st->replayed = 0: do the work; CR_OK with st->replayed = 1: resp holds
 * the first response (status and raw body), return it as is; CR_E_IDEM_REUSED: the key was
 * used for another request; CR_E_IN_PROGRESS: the first request is still running;
 * CR_E_INVALID: a malformed key; or a database error (nothing claimed). A row older than
 * CR_IDEM_TTL_MS is replaced, and an IN_PROGRESS row is taken over, since its request died,
 * when the MariaDB session that claimed it is gone or it is older than CR_IDEM_STALE_MS. */
int cr_idem_begin(struct cr_req *req, struct cr_resp *resp, long long user_id,
                  const char *endpoint, const char *fingerprint, struct cr_idem *st);

/* Like cr_idem_begin but never claims: CR_OK with st->replayed = 1 when a completed response
 * for this same request is recorded (resp filled), CR_E_NOT_FOUND when none is (or the request
 * has no key), and the same 409s otherwise. For a request that may only ever be a replay (a payment repeated with its
 * spent token). */
int cr_idem_lookup(struct cr_req *req, struct cr_resp *resp, long long user_id,
                   const char *endpoint, const char *fingerprint, struct cr_idem *st);

/* Inside the work's own cr_db_txn(): marks the row DONE with the response status and body
 * text, so the work and its recorded response commit together. A no-op without a key.
 * Returns CR_OK, CR_E_IN_PROGRESS when the row was taken over meanwhile (st->lost is set;
 * roll back), or a database error. */
int cr_idem_finish_in_txn(struct cr_idem *st, int status, const char *body);

/* After the work failed with err (its transaction rolled back): a 4xx outcome is recorded as
 * the final response (the contract's error body that the dispatcher will send for err, so
 * record req->errmsg first with cr_fail()); a 5xx or 503, or a 401 (a token refused, as a
 * gate would), deletes the claim so the client may retry with the same key. Always returns
 * err, for "return cr_idem_fail(req, &idem, rc);". */
int cr_idem_fail(struct cr_req *req, struct cr_idem *st, int err);

/* Deletes up to max rows older than CR_IDEM_TTL_MS (for a periodic job). Sets *deleted when
 * not NULL. CR_OK or a database error. */
int cr_idem_purge(long long max, long long *deleted);

/* SHA-256 of n bytes at data into out. */
void cr_idem_sha256(const void *data, size_t n, uint8_t out[32]);

#endif
