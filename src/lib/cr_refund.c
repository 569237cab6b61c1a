/* cr_refund.c: the refund transaction and its post-commit history write.
 *
 * Race-free by locks, not by what a read saw: everything is decided on rows this transaction
 * has locked (the user's row first, which serialises a user's refunds, holds and payments;
 * then the reservation), and every write is conditional on the state it was decided on. */
#include <string.h>

#include <json-c/json.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_outbox.h"
#include "cr_refund.h"
#include "cr_time.h"

struct cr_refund_ctx {
    struct cr_arena *a;
    const struct cr_uuid *id, *user;
    long long user_id, now, deadline;
    struct cr_refund *out;
};

/* The payment's history payload: the PAYMENT_HISTORY outbox row's (the reservation ids in the
 * order the client paid them), or, should that row be gone, one built from the payment and
 * its reservations; with "refundedAmount" set to refunded. An arena string, or NULL on a
 * database error (*rc says which). */
static const char *cr_refund_payload(struct cr_refund_ctx *c, long long payment_id,
                                     long long refunded, int *rc)
{
    struct cr_db_rows rows;
    json_object *o = NULL, *ids = NULL;
    const char *text = NULL;

    struct cr_db_val p[] = {CR_DB_I(payment_id)};
    if ((*rc = cr_db_query(c->a,
                           "SELECT payload FROM outbox "
                           "WHERE kind = '" CR_OUTBOX_PAYMENT_HISTORY "' AND payment_id = ?",
                           p, 1, &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 1) {
        const char *s = CR_DB_CELL(&rows, 0, 0)->s;
        if (cr_json_parse(s, strlen(s), &o) != CR_OK || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
    }
    if (o == NULL) {
        cr_log_warn("payment %lld: no history payload in the outbox; built from the payment",
                    payment_id);
        if ((*rc = cr_db_query(c->a, "SELECT uuid, user_id, amount, paid_at FROM payments "
                                     "WHERE id = ?",
                               p, 1, &rows)) != CR_OK)
            goto out;
        if (rows.nrows != 1 || CR_DB_CELL(&rows, 0, 0)->len != 16) {
            *rc = CR_E_INTERNAL;
            goto out;
        }
        struct cr_uuid pu;
        memcpy(pu.b, CR_DB_CELL(&rows, 0, 0)->s, 16);
        o = json_object_new_object();
        cr_json_add_uuid(o, "paymentId", &pu);
        cr_json_add_int(o, "userId", CR_DB_CELL(&rows, 0, 1)->i);
        cr_json_add_int(o, "amount", CR_DB_CELL(&rows, 0, 2)->i);
        cr_json_add_time(o, "paidAt", CR_DB_CELL(&rows, 0, 3)->i);
        if ((*rc = cr_db_query(c->a, "SELECT uuid FROM reservations WHERE payment_id = ? "
                                     "ORDER BY id",
                               p, 1, &rows)) != CR_OK)
            goto out;
        ids = json_object_new_array();
        for (int r = 0; r < rows.nrows; r++) {
            struct cr_uuid ru;
            char buf[CR_UUID_STRLEN];
            if (CR_DB_CELL(&rows, r, 0)->len != 16)
                continue;
            memcpy(ru.b, CR_DB_CELL(&rows, r, 0)->s, 16);
            json_object_array_add(ids, json_object_new_string(cr_uuid_format(&ru, buf)));
        }
        json_object_object_add(o, "reservationIds", ids);
    }
    json_object_object_del(o, "refundedAmount");
    cr_json_add_int(o, "refundedAmount", refunded);
    text = cr_json_text(c->a, o);
    *rc = CR_OK;
out:
    json_object_put(o);
    return text;
}

/* Columns of the locked reservation. */
enum {
    CR_REFUND_C_ID,
    CR_REFUND_C_SEAT,
    CR_REFUND_C_SCHEDULE,
    CR_REFUND_C_SEAT_NO,
    CR_REFUND_C_PRICE,
    CR_REFUND_C_STATUS,
    CR_REFUND_C_EXPIRES,
    CR_REFUND_C_VERSION,
    CR_REFUND_C_PAYMENT
};

/* The refund. Rerunnable as cr_db_txn wants: it forgets what an earlier attempt found. */
static int cr_refund_txn(void *arg)
{
    struct cr_refund_ctx *c = arg;
    struct cr_refund *out = c->out;
    struct cr_hold *h = &out->hold;
    struct cr_db_rows rows;
    long long affected = 0;
    int rc;

    out->refunded = 0;
    out->outbox_id = out->balance = 0;

    /* 404, then 403 before anything else is said or locked. */
    struct cr_db_val pid[] = {CR_DB_UUID(c->id)};
    if ((rc = cr_db_query(c->a, "SELECT user_id FROM reservations WHERE uuid = ?", pid, 1,
                          &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0) {
        rc = CR_E_NOT_FOUND;
        goto out;
    }
    if (CR_DB_CELL(&rows, 0, 0)->i != c->user_id) {
        rc = CR_E_FORBIDDEN;
        goto out;
    }

    /* The lock order of cr_hold.h: the user's row, then the reservation. */
    struct cr_db_val uid[] = {CR_DB_I(c->user_id)};
    if ((rc = cr_db_query(c->a, "SELECT id FROM users WHERE id = ? FOR UPDATE", uid, 1,
                          &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0) {
        rc = CR_E_NOT_FOUND;
        goto out;
    }
    if ((rc = cr_db_query(c->a,
                          "SELECT id, seat_id, schedule_id, seat_no, price, status, expires_at,"
                          " version, payment_id FROM reservations WHERE uuid = ? FOR UPDATE",
                          pid, 1, &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0) {
        rc = CR_E_NOT_FOUND;
        goto out;
    }
    long long rid = CR_DB_CELL(&rows, 0, CR_REFUND_C_ID)->i;
    long long seat_id = CR_DB_CELL(&rows, 0, CR_REFUND_C_SEAT)->i;
    long long price = CR_DB_CELL(&rows, 0, CR_REFUND_C_PRICE)->i;
    long long version = CR_DB_CELL(&rows, 0, CR_REFUND_C_VERSION)->i;
    const struct cr_db_val *payment = CR_DB_CELL(&rows, 0, CR_REFUND_C_PAYMENT);
    h->id = *c->id;
    h->user = *c->user;
    h->schedule_id = CR_DB_CELL(&rows, 0, CR_REFUND_C_SCHEDULE)->i;
    h->seat_no = CR_DB_CELL(&rows, 0, CR_REFUND_C_SEAT_NO)->i;
    h->price = price;
    h->expires_at = CR_DB_CELL(&rows, 0, CR_REFUND_C_EXPIRES)->i;
    h->status = cr_hold_status_at(CR_DB_CELL(&rows, 0, CR_REFUND_C_STATUS)->s, h->expires_at,
                                  c->now);
    if (h->status == CR_HOLD_REFUNDED)
        goto out; /* refunded before (maybe a moment ago, by a concurrent request): the same 200 */
    if (h->status != CR_HOLD_PAID) {
        rc = CR_E_NOT_PAID;
        goto out;
    }
    if (payment->type != CR_DB_INT) {
        cr_log_error("reservation %lld is PAID without a payment", rid);
        rc = CR_E_INTERNAL;
        goto out;
    }

    /* The deadline. A plain read: a schedule's start is not changed by requests, and a
     * locking read would queue refunds behind anything that updates the schedule's row. */
    struct cr_db_val ps[] = {CR_DB_I(h->schedule_id)};
    if ((rc = cr_db_query(c->a, "SELECT starts_at FROM schedules WHERE id = ?", ps, 1, &rows)) !=
        CR_OK)
        goto out;
    if (rows.nrows == 0 || CR_DB_CELL(&rows, 0, 0)->type != CR_DB_TIME ||
        CR_DB_CELL(&rows, 0, 0)->i - c->now <= c->deadline) {
        rc = CR_E_REFUND_CLOSED;
        goto out;
    }

    struct cr_db_val pr[] = {CR_DB_T(c->now), CR_DB_I(rid), CR_DB_I(version)};
    if ((rc = cr_db_exec("UPDATE reservations SET status = 'REFUNDED', refunded_at = ?,"
                         " version = version + 1 WHERE id = ? AND status = 'PAID' AND version = ?",
                         pr, 3, &affected, NULL)) != CR_OK)
        goto out;
    if (affected != 1) {
        rc = CR_E_RETRY; /* cannot happen under our lock; a rerun judges afresh */
        goto out;
    }

    /* The payment: its row lock serialises the refunds of its reservations (and the writers
     * of its PAYMENT_REFUND outbox row); the CHECK keeps refunded_amount <= amount. */
    struct cr_db_val pp[] = {CR_DB_I(payment->i)};
    if ((rc = cr_db_query(c->a, "SELECT refunded_amount FROM payments WHERE id = ? FOR UPDATE",
                          pp, 1, &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0) {
        cr_log_error("reservation %lld: payment %lld is missing", rid, payment->i);
        rc = CR_E_INTERNAL;
        goto out;
    }
    long long refunded = CR_DB_CELL(&rows, 0, 0)->i + price;
    struct cr_db_val pu[] = {CR_DB_I(refunded), CR_DB_I(payment->i)};
    if ((rc = cr_db_exec("UPDATE payments SET refunded_amount = ? WHERE id = ?", pu, 2, NULL,
                         NULL)) != CR_OK)
        goto out;

    /* The seat, back on sale: its one writer for refunds lives with the other seat writers. */
    if ((rc = cr_hold_seat_refund(seat_id, rid)) != CR_OK)
        goto out;

    /* The money: an atomic credit under the user's lock, and its ledger entry (the unique
     * reservation_id makes a second REFUND entry for it impossible). */
    struct cr_db_val pc[] = {CR_DB_I(price), CR_DB_I(c->user_id)};
    if ((rc = cr_db_exec("UPDATE users SET balance = balance + ?, version = version + 1"
                         " WHERE id = ?",
                         pc, 2, NULL, NULL)) != CR_OK)
        goto out;
    if ((rc = cr_db_query(c->a, "SELECT balance FROM users WHERE id = ?", uid, 1, &rows)) !=
        CR_OK)
        goto out;
    out->balance = CR_DB_CELL(&rows, 0, 0)->i;
    struct cr_db_val pe[] = {CR_DB_I(c->user_id), CR_DB_I(price), CR_DB_I(out->balance),
                             CR_DB_I(payment->i), CR_DB_I(rid)};
    rc = cr_db_exec("INSERT INTO balance_entries"
                    " (user_id, type, amount, balance_after, payment_id, reservation_id)"
                    " VALUES (?, 'REFUND', ?, ?, ?, ?)",
                    pe, 5, NULL, NULL);
    if (rc == CR_E_DUPLICATE) {
        cr_log_error("reservation %lld: a REFUND entry exists though it was PAID", rid);
        rc = CR_E_INTERNAL;
    }
    if (rc != CR_OK)
        goto out;

    /* The history, through the outbox like the payment's own row. */
    const char *payload = cr_refund_payload(c, payment->i, refunded, &rc);
    if (payload == NULL)
        goto out;
    if ((rc = cr_outbox_put_in_txn(c->a, CR_OUTBOX_PAYMENT_REFUND, payment->i, payload,
                                   &out->outbox_id)) != CR_OK)
        goto out;
    h->status = CR_HOLD_REFUNDED;
    out->refunded = 1;
out:
    return rc;
}

int cr_refund(struct cr_arena *a, const struct cr_uuid *id, const struct cr_uuid *user,
              long long user_id, long long now_ms, long long deadline_ms, struct cr_refund *out)
{
    struct cr_refund_ctx c = {a, id, user, user_id, now_ms, deadline_ms, out};
    memset(out, 0, sizeof(*out));
    int rc = cr_db_txn(cr_refund_txn, &c);
    if (rc != CR_OK)
        out->refunded = 0;
    if (rc == CR_OK && out->refunded)
        cr_catalog_touch(a, out->hold.schedule_id); /* the seat is on sale again */
    return rc;
}

void cr_refund_write_history(struct cr_arena *a, const struct cr_refund *r, int fail_history)
{
    int rc;
    if (!r->refunded || r->outbox_id <= 0)
        return;
    if (fail_history) {
        cr_log_warn("refund: history write failed on purpose (TEST_FAIL_HISTORY); outbox row "
                    "%lld is left to concert-expire",
                    r->outbox_id);
        return;
    }
    if ((rc = cr_outbox_deliver(a, r->outbox_id, NULL)) != CR_OK)
        cr_log_warn("refund: history not written yet (%d); concert-expire will", rc);
}
