/* cr_payment.c: the payment transaction, the release of holds it found run out, the
 * post-commit steps and the payment history read. */
#include <string.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_metrics.h"
#include "cr_outbox.h"
#include "cr_payment.h"
#include "cr_queue.h"
#include "cr_time.h"

int cr_payment_check_ids(const struct cr_uuid *ids, int n)
{
    if (n < 1 || n > CR_PAYMENT_MAX_IDS)
        return CR_E_INVALID;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (memcmp(ids[i].b, ids[j].b, sizeof(ids[i].b)) == 0)
                return CR_E_INVALID;
    return CR_OK;
}

/* Fills order[0..n) with the indices of ids sorted by id (n is at most 4: insertion sort). */
static void cr_payment_sort(const struct cr_uuid *ids, int n, int *order)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        for (; j > 0 && memcmp(ids[order[j - 1]].b, ids[i].b, sizeof(ids[i].b)) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

const char *cr_payment_fingerprint(struct cr_arena *a, const struct cr_uuid *ids, int n)
{
    int order[CR_PAYMENT_MAX_IDS];
    char buf[8 + CR_PAYMENT_MAX_IDS * CR_UUID_STRLEN], *p = buf;
    if (n < 0)
        n = 0;
    if (n > CR_PAYMENT_MAX_IDS)
        n = CR_PAYMENT_MAX_IDS;
    cr_payment_sort(ids, n, order);
    memcpy(p, "ids=", 4);
    p += 4;
    for (int k = 0; k < n; k++) {
        if (k > 0)
            *p++ = ',';
        cr_uuid_format(&ids[order[k]], p);
        p += CR_UUID_STRLEN - 1;
    }
    *p = '\0';
    return cr_arena_strdup(a, buf);
}

/* ---------------------------------------------------------------------------------------- */
/* The payment transaction.                                                                  */

/* What the transaction found of one requested reservation; a larger value wins when several
 * are wrong, which gives the contract's order 404, 403, 409, 410. */
enum cr_payment_verdict {
    CR_PAY_OK,
    CR_PAY_GONE, /* ran out, EXPIRED or CANCELLED: 410 */
    CR_PAY_PAID,
    CR_PAY_FORBIDDEN,
    CR_PAY_UNKNOWN
};

struct cr_payment_row {
    long long id, seat_id, price, version, expires_at, schedule_id;
    enum cr_payment_verdict verdict;
    int ran_out;   /* HELD but expires_at <= now: released after the rollback */
    int cancelled; /* CANCELLED (for the message) */
};

struct cr_payment_ctx {
    struct cr_arena *a;
    long long user_id, now;
    int has_token;
    uint8_t token_hash[32]; /* SHA-256 of the queue token paying, stored with the payment */
    struct cr_idem *idem;
    const struct cr_uuid *ids;
    int n;
    int order[CR_PAYMENT_MAX_IDS]; /* lock order: by reservation id */
    struct cr_payment_row rows[CR_PAYMENT_MAX_IDS];
    struct cr_payment *out;
    const char *body;   /* out: the 201 body text */
    long long released; /* out of the release transaction */
};

static const char *cr_payment_id_text(struct cr_payment_ctx *c, int i)
{
    char buf[CR_UUID_STRLEN];
    return cr_arena_strdup(c->a, cr_uuid_format(&c->ids[i], buf));
}

/* Locks and judges every requested reservation (in id order, so two payments sharing
 * reservations lock them in the same order). Returns CR_OK when all can be paid, otherwise
 * the error of the worst verdict with out->reason set. */
static int cr_payment_lock_rows(struct cr_payment_ctx *c)
{
    struct cr_db_rows rows;
    int rc, worst = 0;

    for (int k = 0; k < c->n; k++) {
        int i = c->order[k];
        struct cr_payment_row *r = &c->rows[i];
        struct cr_db_val p[] = {CR_DB_UUID(&c->ids[i])};
        if ((rc = cr_db_query(c->a,
                              "SELECT id, user_id, seat_id, price, status, expires_at, version, "
                              "schedule_id FROM reservations WHERE uuid = ? FOR UPDATE",
                              p, 1, &rows)) != CR_OK)
            return rc;
        if (rows.nrows == 0) {
            r->verdict = CR_PAY_UNKNOWN;
            continue;
        }
        r->id = CR_DB_CELL(&rows, 0, 0)->i;
        r->seat_id = CR_DB_CELL(&rows, 0, 2)->i;
        r->price = CR_DB_CELL(&rows, 0, 3)->i;
        r->expires_at = CR_DB_CELL(&rows, 0, 5)->i;
        r->version = CR_DB_CELL(&rows, 0, 6)->i;
        r->schedule_id = CR_DB_CELL(&rows, 0, 7)->i;
        const char *status = CR_DB_CELL(&rows, 0, 4)->s;
        if (CR_DB_CELL(&rows, 0, 1)->i != c->user_id) {
            r->verdict = CR_PAY_FORBIDDEN;
        } else if (strcmp(status, "PAID") == 0 || strcmp(status, "REFUNDED") == 0) {
            r->verdict = CR_PAY_PAID; /* a refunded one was paid: 409, never paid again */
        } else if (strcmp(status, "HELD") == 0 && r->expires_at > c->now) {
            r->verdict = CR_PAY_OK;
        } else {
            r->verdict = CR_PAY_GONE;
            r->ran_out = strcmp(status, "HELD") == 0;
            r->cancelled = strcmp(status, "CANCELLED") == 0;
        }
    }
    /* The worst verdict decides; among equals, the first in the client's order is named. */
    for (int i = 1; i < c->n; i++)
        if (c->rows[i].verdict > c->rows[worst].verdict)
            worst = i;
    if (c->rows[worst].verdict == CR_PAY_OK)
        return CR_OK;
    const char *id = cr_payment_id_text(c, worst);
    switch (c->rows[worst].verdict) {
    case CR_PAY_OK:
        break;
    case CR_PAY_UNKNOWN:
        c->out->reason = cr_arena_sprintf(c->a, "no reservation %s", id);
        return CR_E_NOT_FOUND;
    case CR_PAY_FORBIDDEN:
        c->out->reason = cr_arena_sprintf(c->a, "reservation %s belongs to another user", id);
        return CR_E_FORBIDDEN;
    case CR_PAY_PAID:
        c->out->reason = cr_arena_sprintf(c->a, "reservation %s is already paid", id);
        return CR_E_ALREADY_PAID;
    case CR_PAY_GONE:
        /* A cancelled hold is 410 like a run-out one, not 409: for the client both mean the
         * same thing, "this hold is gone for good, hold the seat again", while 409 says a
         * conflict that another try could resolve. */
        c->out->reason = cr_arena_sprintf(
            c->a, c->rows[worst].cancelled ? "reservation %s was cancelled; hold the seat again"
                                           : "the hold of reservation %s ran out and was released",
            id);
        return CR_E_EXPIRED;
    }
    return CR_E_INTERNAL;
}

/* Sells the seat of row r (HELD by that reservation, locked after every reservation, as the
 * lock order wants) and marks the reservation PAID with payment_id; both conditional on the
 * versions read under lock. */
static int cr_payment_sell(struct cr_payment_ctx *c, int i, long long payment_id)
{
    struct cr_payment_row *r = &c->rows[i];
    struct cr_db_rows rows;
    long long affected = 0;
    int rc;

    struct cr_db_val res[] = {CR_DB_I(payment_id), CR_DB_I(r->id), CR_DB_I(r->version)};
    if ((rc = cr_db_exec("UPDATE reservations SET status = 'PAID', payment_id = ?, "
                         "version = version + 1 WHERE id = ? AND status = 'HELD' AND version = ?",
                         res, 3, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1)
        return CR_E_RETRY; /* cannot happen under our lock; a rerun judges afresh */

    struct cr_db_val sid[] = {CR_DB_I(r->seat_id)};
    if ((rc = cr_db_query(c->a,
                          "SELECT status, reservation_id, version FROM seats WHERE id = ? "
                          "FOR UPDATE",
                          sid, 1, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0 || strcmp(CR_DB_CELL(&rows, 0, 0)->s, "HELD") != 0 ||
        CR_DB_CELL(&rows, 0, 1)->type != CR_DB_INT || CR_DB_CELL(&rows, 0, 1)->i != r->id) {
        /* The seat is no longer this hold's: the hold is gone whatever its row says. */
        c->out->reason = cr_arena_sprintf(c->a, "the hold of reservation %s lost its seat",
                                          cr_payment_id_text(c, i));
        cr_log_warn("reservation %lld is HELD but seat %lld is not held by it", r->id,
                    r->seat_id);
        return CR_E_EXPIRED;
    }
    struct cr_db_val seat[] = {CR_DB_I(r->seat_id), CR_DB_I(CR_DB_CELL(&rows, 0, 2)->i),
                               CR_DB_I(r->id)};
    if ((rc = cr_db_exec("UPDATE seats SET status = 'SOLD', version = version + 1 "
                         "WHERE id = ? AND version = ? AND status = 'HELD' AND reservation_id = ?",
                         seat, 3, &affected, NULL)) != CR_OK)
        return rc;
    return affected == 1 ? CR_OK : CR_E_RETRY;
}

/* The payment's reservation ids as a new JSON array, in the client's order. */
static json_object *cr_payment_ids_json(const struct cr_payment *p)
{
    json_object *ids = json_object_new_array();
    for (int i = 0; i < p->nreservations; i++) {
        char buf[CR_UUID_STRLEN];
        json_object_array_add(ids,
                              json_object_new_string(cr_uuid_format(&p->reservations[i], buf)));
    }
    return ids;
}

/* The history row's payload, written to the outbox with the payment. */
static const char *cr_payment_payload(struct cr_payment_ctx *c)
{
    const struct cr_payment *p = c->out;
    json_object *o = json_object_new_object();
    json_object *ids = cr_payment_ids_json(p);
    cr_json_add_uuid(o, "paymentId", &p->id);
    cr_json_add_int(o, "userId", c->user_id);
    json_object_object_add(o, "reservationIds", ids);
    cr_json_add_int(o, "amount", p->amount);
    cr_json_add_time(o, "paidAt", p->paid_at);
    const char *text = cr_json_text(c->a, o);
    json_object_put(o);
    return text;
}

/* The payment. Rerunnable as cr_db_txn wants: it starts by forgetting what an earlier attempt
 * found, and draws a new payment id each time. */
static int cr_payment_txn(void *arg)
{
    struct cr_payment_ctx *c = arg;
    struct cr_payment *p = c->out;
    struct cr_db_rows rows;
    long long affected = 0, total = 0;
    json_object *o = NULL;
    int rc;

    memset(c->rows, 0, sizeof(c->rows));
    p->reason = NULL;
    p->token_spent = 0;
    p->amount = p->balance = p->payment_id = p->outbox_id = 0;
    c->body = NULL;

    /* The lock order of cr_hold.h: the user's row, then the reservations, then the seats.
     * Holding the user's row also runs one user's payments and holds one at a time. */
    struct cr_db_val uid[] = {CR_DB_I(c->user_id)};
    if ((rc = cr_db_query(c->a, "SELECT balance FROM users WHERE id = ? FOR UPDATE", uid, 1,
                          &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0) {
        p->reason = "no such user";
        rc = CR_E_NOT_FOUND;
        goto out;
    }
    long long before = CR_DB_CELL(&rows, 0, 0)->i;
    /* The token pays once. A token is one user's, and that user's row lock is ours, so no
     * payment with it can commit between this read and our COMMIT: of two concurrent ones
     * with one token, the second finds the first's here (uq_payments_token backs this up). */
    if (c->has_token) {
        struct cr_db_val th[] = {CR_DB_B(c->token_hash, 32)};
        if ((rc = cr_db_query(c->a, "SELECT id FROM payments WHERE token_hash = ?", th, 1,
                              &rows)) != CR_OK)
            goto out;
        if (rows.nrows > 0) {
            p->reason = "the queue token was used by a payment";
            p->token_spent = 1;
            rc = CR_E_TOKEN_INVALID;
            goto out;
        }
    }
    if ((rc = cr_payment_lock_rows(c)) != CR_OK)
        goto out;
    for (int i = 0; i < c->n; i++)
        total += c->rows[i].price;
    p->amount = total;

    /* One guarded, atomic debit: never below zero, and 0 rows means too little money (the
     * row exists: we hold its lock). */
    struct cr_db_val debit[] = {CR_DB_I(total), CR_DB_I(c->user_id), CR_DB_I(total)};
    if ((rc = cr_db_exec("UPDATE users SET balance = balance - ?, version = version + 1 "
                         "WHERE id = ? AND balance >= ?",
                         debit, 3, &affected, NULL)) != CR_OK)
        goto out;
    if (affected != 1) {
        p->reason = cr_arena_sprintf(c->a, "the balance is %lld, the payment %lld", before, total);
        rc = CR_E_INSUFFICIENT;
        goto out;
    }
    if ((rc = cr_db_query(c->a, "SELECT balance FROM users WHERE id = ?", uid, 1, &rows)) !=
        CR_OK)
        goto out;
    p->balance = CR_DB_CELL(&rows, 0, 0)->i;

    p->paid_at = c->now;
    if ((rc = cr_uuid_v7(&p->id, c->now)) != CR_OK)
        goto out;
    struct cr_db_val pay[] = {CR_DB_UUID(&p->id), CR_DB_I(c->user_id), CR_DB_I(total),
                              CR_DB_T(p->paid_at),
                              c->has_token ? CR_DB_B(c->token_hash, 32) : CR_DB_NULLV};
    rc = cr_db_exec("INSERT INTO payments (uuid, user_id, amount, paid_at, token_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    pay, 5, NULL, &p->payment_id);
    if (rc == CR_E_DUPLICATE)
        rc = CR_E_RETRY; /* a UUID clash (74 random bits): run again with a new one */
    if (rc != CR_OK)
        goto out;

    for (int k = 0; k < c->n; k++)
        if ((rc = cr_payment_sell(c, c->order[k], p->payment_id)) != CR_OK)
            goto out;

    struct cr_db_val entry[] = {CR_DB_I(c->user_id), CR_DB_I(-total), CR_DB_I(p->balance),
                                CR_DB_I(p->payment_id)};
    if ((rc = cr_db_exec("INSERT INTO balance_entries "
                         "(user_id, type, amount, balance_after, payment_id) "
                         "VALUES (?, 'PAYMENT', ?, ?, ?)",
                         entry, 4, NULL, NULL)) != CR_OK)
        goto out;
    if ((rc = cr_outbox_add_in_txn(CR_OUTBOX_PAYMENT_HISTORY, p->payment_id,
                                   cr_payment_payload(c), &p->outbox_id)) != CR_OK)
        goto out;

    o = cr_payment_json(p);
    c->body = cr_json_text(c->a, o);
    /* The recorded response commits with the payment or not at all. */
    rc = cr_idem_finish_in_txn(c->idem, 201, c->body);
out:
    json_object_put(o);
    return rc;
}

/* After a 410: releases the holds the payment found run out (reservation EXPIRED, seat
 * AVAILABLE), each only if nobody changed it since (its version) and it has still run out,
 * and its seat only while that hold still has it: the same conditional updates the expiry
 * job makes, so whichever of the two comes first releases it, once. */
static int cr_payment_release_txn(void *arg)
{
    struct cr_payment_ctx *c = arg;
    long long affected = 0;
    int rc = CR_OK;

    c->released = 0;
    for (int k = 0; k < c->n; k++) {
        struct cr_payment_row *r = &c->rows[c->order[k]];
        if (!r->ran_out)
            continue;
        struct cr_db_val res[] = {CR_DB_I(r->id), CR_DB_I(r->version), CR_DB_T(c->now)};
        if ((rc = cr_db_exec("UPDATE reservations SET status = 'EXPIRED', version = version + 1 "
                             "WHERE id = ? AND status = 'HELD' AND version = ? "
                             "AND expires_at <= ?",
                             res, 3, &affected, NULL)) != CR_OK)
            goto out;
        if (affected != 1)
            continue;
        struct cr_db_val seat[] = {CR_DB_I(r->seat_id), CR_DB_I(r->id)};
        if ((rc = cr_db_exec("UPDATE seats SET status = 'AVAILABLE', holder_user_id = NULL, "
                             "reservation_id = NULL, hold_expires_at = NULL, "
                             "version = version + 1 "
                             "WHERE id = ? AND status = 'HELD' AND reservation_id = ?",
                             seat, 2, NULL, NULL)) != CR_OK)
            goto out;
        c->released++;
    }
out:
    return rc;
}

int cr_payment_pay(struct cr_arena *a, const struct cr_uuid *user, long long user_id,
                   const char *token, const struct cr_uuid *ids, int n, long long now_ms,
                   struct cr_idem *idem, struct cr_payment *out, const char **body)
{
    struct cr_payment_ctx c;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    *body = NULL;
    if (cr_payment_check_ids(ids, n) != CR_OK) {
        out->reason = "reservationIds must hold 1 to 4 different ids";
        return CR_E_INVALID;
    }
    out->user = *user;
    out->nreservations = n;
    memcpy(out->reservations, ids, sizeof(ids[0]) * (size_t)n);
    c.a = a;
    c.user_id = user_id;
    if (token != NULL) {
        c.has_token = 1;
        cr_idem_sha256(token, strlen(token), c.token_hash);
    }
    c.now = now_ms;
    c.idem = idem;
    c.ids = ids;
    c.n = n;
    c.out = out;
    cr_payment_sort(ids, n, c.order);

    rc = cr_db_txn(cr_payment_txn, &c);
    if (rc == CR_E_EXPIRED) {
        /* The payment rolled back, so nothing else changed; now the run-out holds go. */
        int rrc = cr_db_txn(cr_payment_release_txn, &c);
        if (rrc != CR_OK)
            cr_log_warn("run-out holds not released after a 410 (%d); concert-expire will",
                        rrc);
        else if (c.released > 0) {
            cr_metrics_add(CR_M_HOLDS_EXPIRED, c.released);
            cr_log_info("payment refused: %lld run-out hold(s) released", c.released);
        }
    }
    if (rc == CR_OK) {
        *body = c.body;
        /* Sold: copies of these maps show the seats HELD (run-out holds released above
         * need no touch: copies show them AVAILABLE already). A replayed payment sold
         * nothing new, and a touch too many only costs a version read. */
        for (int i = 0; i < n; i++)
            if (c.rows[i].schedule_id != 0)
                cr_catalog_touch(a, c.rows[i].schedule_id);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* After the commit, and the reads.                                                          */

void cr_payment_release_token(struct cr_arena *a, const char *token, const struct cr_payment *p)
{
    char id[CR_UUID_STRLEN];
    int rc;
    if (token != NULL && (rc = cr_queue_leave(a, token, 1)) != CR_OK)
        cr_log_error("payment %s: the queue token was not given back (%d); its place frees "
                     "when its active time ends",
                     cr_uuid_format(&p->id, id), rc);
}

void cr_payment_settle_token(struct cr_arena *a, const char *token)
{
    struct cr_db_rows rows;
    uint8_t hash[32];
    int rc;
    if (token == NULL)
        return;
    cr_idem_sha256(token, strlen(token), hash);
    struct cr_db_val p[] = {CR_DB_B(hash, 32)};
    if ((rc = cr_db_query(a, "SELECT id FROM payments WHERE token_hash = ?", p, 1, &rows)) !=
        CR_OK) {
        cr_log_warn("could not check whether a replayed payment's token is spent (%d)", rc);
        return;
    }
    if (rows.nrows == 0)
        return; /* another token of the user's: not the one that paid */
    if ((rc = cr_queue_leave(a, token, 1)) != CR_OK)
        cr_log_error("payment row %lld: its queue token was not given back (%d)",
                     CR_DB_CELL(&rows, 0, 0)->i, rc);
}

void cr_payment_write_history(struct cr_arena *a, const struct cr_payment *p, int fail_history)
{
    char id[CR_UUID_STRLEN];
    int rc, written = 0;

    cr_uuid_format(&p->id, id);
    if (fail_history) {
        cr_log_warn("payment %s: history write failed on purpose (TEST_FAIL_HISTORY); "
                    "outbox row %lld is left to concert-expire",
                    id, p->outbox_id);
        return;
    }
    if ((rc = cr_outbox_deliver(a, p->outbox_id, &written)) != CR_OK)
        cr_log_warn("payment %s: history not written yet (%d); concert-expire will", id, rc);
}

json_object *cr_payment_json(const struct cr_payment *p)
{
    json_object *o = json_object_new_object();
    json_object *ids = cr_payment_ids_json(p);
    cr_json_add_uuid(o, "paymentId", &p->id);
    cr_json_add_uuid(o, "userId", &p->user);
    json_object_object_add(o, "reservationIds", ids);
    cr_json_add_int(o, "amount", p->amount);
    cr_json_add_int(o, "balance", p->balance);
    cr_json_add_str(o, "status", "PAID");
    cr_json_add_time(o, "paidAt", p->paid_at);
    return o;
}

void cr_payment_flush_history(struct cr_arena *a, long long user_id, int fail_history)
{
    struct cr_db_rows rows;
    if (fail_history)
        return;
    /* Normally no row is pending: one probe of ix_outbox_status (status, id). */
    struct cr_db_val p[] = {CR_DB_I(user_id)};
    if (cr_db_query(a,
                    "SELECT o.id FROM outbox AS o JOIN payments AS p ON p.id = o.payment_id "
                    "WHERE o.status = 'PENDING' AND p.user_id = ? ORDER BY o.id LIMIT 100",
                    p, 1, &rows) != CR_OK)
        return;
    for (int r = 0; r < rows.nrows; r++)
        if (cr_outbox_deliver(a, CR_DB_CELL(&rows, r, 0)->i, NULL) != CR_OK)
            cr_log_warn("history of outbox row %lld not written yet; concert-expire will",
                        CR_DB_CELL(&rows, r, 0)->i);
}

int cr_payment_list(struct cr_arena *a, long long user_id, struct cr_payment_item **items,
                    int *n)
{
    struct cr_db_rows rows;
    int rc;

    *items = NULL;
    *n = 0;
    /* One backward range scan of ix_payment_history_user (user_id, paid_at, id). */
    struct cr_db_val p[] = {CR_DB_I(user_id), CR_DB_I(CR_PAYMENT_LIST_MAX)};
    if ((rc = cr_db_query(a,
                          "SELECT payment_uuid, reservation_ids, amount, paid_at, "
                          "refunded_amount FROM payment_history WHERE user_id = ? "
                          "ORDER BY paid_at DESC, id DESC LIMIT ?",
                          p, 2, &rows)) != CR_OK)
        return rc;
    struct cr_payment_item *it = cr_arena_calloc(a, sizeof(*it) * (size_t)(rows.nrows + 1));
    for (int r = 0; r < rows.nrows; r++) {
        const struct cr_db_val *u = CR_DB_CELL(&rows, r, 0);
        if (u->len != sizeof(it[r].id.b))
            return CR_E_INTERNAL;
        memcpy(it[r].id.b, u->s, sizeof(it[r].id.b));
        it[r].reservation_ids = CR_DB_CELL(&rows, r, 1)->s;
        it[r].amount = CR_DB_CELL(&rows, r, 2)->i;
        it[r].paid_at = CR_DB_CELL(&rows, r, 3)->i;
        it[r].refunded = CR_DB_CELL(&rows, r, 4)->i;
    }
    *items = it;
    *n = rows.nrows;
    return CR_OK;
}
