/* cr_outbox.c: outbox rows in, payment_history rows (and their refunded amounts) out, each
 * exactly once. */
#include <string.h>

#include <json-c/json.h>

#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_outbox.h"
#include "cr_time.h"

int cr_outbox_add_in_txn(const char *kind, long long payment_id, const char *payload,
                         long long *id)
{
    long long insert_id = 0;
    struct cr_db_val p[] = {CR_DB_STRZ(kind), CR_DB_I(payment_id), CR_DB_STRZ(payload)};
    int rc = cr_db_exec("INSERT INTO outbox (kind, payment_id, payload, status) "
                        "VALUES (?, ?, ?, 'PENDING')",
                        p, 3, NULL, &insert_id);
    if (id != NULL)
        *id = rc == CR_OK ? insert_id : 0;
    return rc;
}

int cr_outbox_put_in_txn(struct cr_arena *a, const char *kind, long long payment_id,
                         const char *payload, long long *id)
{
    struct cr_db_rows rows;
    int rc;
    struct cr_db_val p[] = {CR_DB_STRZ(kind), CR_DB_I(payment_id), CR_DB_STRZ(payload)};
    if ((rc = cr_db_exec("INSERT INTO outbox (kind, payment_id, payload, status) "
                         "VALUES (?, ?, ?, 'PENDING') ON DUPLICATE KEY UPDATE "
                         "payload = VALUES(payload), status = 'PENDING', done_at = NULL",
                         p, 3, NULL, NULL)) != CR_OK)
        goto out;
    /* The row's id either way (an upsert's insert id is not the existing row's). */
    struct cr_db_val k[] = {CR_DB_STRZ(kind), CR_DB_I(payment_id)};
    if ((rc = cr_db_query(a, "SELECT id FROM outbox WHERE kind = ? AND payment_id = ?", k, 2,
                          &rows)) != CR_OK)
        goto out;
    if (rows.nrows != 1)
        rc = CR_E_INTERNAL;
    else if (id != NULL)
        *id = CR_DB_CELL(&rows, 0, 0)->i;
out:
    return rc;
}

/* The payment_history row a PAYMENT_HISTORY or PAYMENT_REFUND payload describes. */
struct cr_outbox_history {
    struct cr_uuid payment;
    long long user_id, amount;
    long long refunded; /* "refundedAmount"; 0 when absent (PAYMENT_HISTORY) */
    int64_t paid_at;
    const char *reservation_ids; /* JSON array text, in the arena */
};

/* Reads payload into h; CR_E_INTERNAL when a field is missing or malformed. */
static int cr_outbox_parse_history(struct cr_arena *a, const char *payload,
                                   struct cr_outbox_history *h)
{
    json_object *o = NULL, *v = NULL;
    int rc = CR_E_INTERNAL;
    if (cr_json_parse(payload, strlen(payload), &o) != CR_OK ||
        !json_object_is_type(o, json_type_object))
        goto out;
    if (!json_object_object_get_ex(o, "paymentId", &v) ||
        cr_uuid_parse(json_object_get_string(v), &h->payment) != CR_OK)
        goto out;
    if (!json_object_object_get_ex(o, "userId", &v) || !cr_json_is_int(v))
        goto out;
    h->user_id = json_object_get_int64(v);
    if (!json_object_object_get_ex(o, "amount", &v) || !cr_json_is_int(v))
        goto out;
    h->amount = json_object_get_int64(v);
    h->refunded = 0;
    if (json_object_object_get_ex(o, "refundedAmount", &v)) {
        if (!cr_json_is_int(v) || json_object_get_int64(v) < 0)
            goto out;
        h->refunded = json_object_get_int64(v);
    }
    if (!json_object_object_get_ex(o, "paidAt", &v) || !json_object_is_type(v, json_type_string) ||
        cr_time_parse(json_object_get_string(v), &h->paid_at) != CR_OK)
        goto out;
    if (!json_object_object_get_ex(o, "reservationIds", &v) ||
        !json_object_is_type(v, json_type_array))
        goto out;
    h->reservation_ids = cr_json_text(a, v);
    rc = CR_OK;
out:
    json_object_put(o);
    return rc;
}

struct cr_outbox_ctx {
    struct cr_arena *a;
    long long id;
    int written; /* out */
};

/* One delivery. The FOR UPDATE lock makes a second deliverer of the same row wait and then
 * see DONE; the upsert on UNIQUE payment_id and the PENDING-only flip each keep the write
 * single even without it (a row DONE by hand, a history row written by an older version).
 * Both kinds write through the same upsert: the first to come writes the row, and
 * refunded_amount only ever rises to the largest total delivered, so a PAYMENT_HISTORY row
 * delivered after the payment's PAYMENT_REFUND row cannot take a refund back. */
static int cr_outbox_deliver_txn(void *arg)
{
    struct cr_outbox_ctx *c = arg;
    struct cr_outbox_history h;
    struct cr_db_rows rows;
    long long affected = 0;
    int rc;

    c->written = 0;
    struct cr_db_val sel[] = {CR_DB_I(c->id)};
    if ((rc = cr_db_query(c->a,
                          "SELECT kind, payment_id, payload, status FROM outbox WHERE id = ? "
                          "FOR UPDATE",
                          sel, 1, &rows)) != CR_OK)
        goto out;
    if (rows.nrows == 0 || strcmp(CR_DB_CELL(&rows, 0, 3)->s, "DONE") == 0)
        goto out; /* nothing (left) to do */
    const char *kind = CR_DB_CELL(&rows, 0, 0)->s;
    long long payment_id = CR_DB_CELL(&rows, 0, 1)->i;
    if ((strcmp(kind, CR_OUTBOX_PAYMENT_HISTORY) != 0 &&
         strcmp(kind, CR_OUTBOX_PAYMENT_REFUND) != 0) ||
        cr_outbox_parse_history(c->a, CR_DB_CELL(&rows, 0, 2)->s, &h) != CR_OK) {
        cr_log_error("outbox row %lld (%s) cannot be delivered: bad kind or payload", c->id,
                     kind);
        rc = CR_E_INTERNAL;
        goto out;
    }
    struct cr_db_val ins[] = {CR_DB_I(payment_id),          CR_DB_UUID(&h.payment),
                              CR_DB_I(h.user_id),           CR_DB_STRZ(h.reservation_ids),
                              CR_DB_I(h.amount),            CR_DB_I(h.refunded),
                              CR_DB_T(h.paid_at)};
    if ((rc = cr_db_exec("INSERT INTO payment_history "
                         "(payment_id, payment_uuid, user_id, reservation_ids, amount, "
                         "refunded_amount, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                         "ON DUPLICATE KEY UPDATE refunded_amount = "
                         "GREATEST(refunded_amount, VALUES(refunded_amount))",
                         ins, 7, NULL, NULL)) != CR_OK)
        goto out;
    struct cr_db_val done[] = {CR_DB_T(cr_time_now_ms()), CR_DB_I(c->id)};
    if ((rc = cr_db_exec("UPDATE outbox SET status = 'DONE', done_at = ?, "
                         "attempts = attempts + 1 WHERE id = ? AND status = 'PENDING'",
                         done, 2, &affected, NULL)) != CR_OK)
        goto out;
    c->written = affected == 1;
out:
    return rc;
}

int cr_outbox_deliver(struct cr_arena *a, long long id, int *written)
{
    struct cr_outbox_ctx c = {a, id, 0};
    int rc = cr_db_txn(cr_outbox_deliver_txn, &c);
    if (rc != CR_OK) {
        /* Counted outside the rolled-back transaction, so a row that keeps failing shows. */
        struct cr_db_val p[] = {CR_DB_I(id)};
        cr_db_exec("UPDATE outbox SET attempts = attempts + 1 WHERE id = ? AND status = 'PENDING'",
                   p, 1, NULL, NULL);
        cr_log_warn("outbox row %lld not delivered (%d); it stays pending", id, rc);
        c.written = 0;
    }
    if (written != NULL)
        *written = c.written;
    return rc;
}

int cr_outbox_drain(long long *written)
{
    struct cr_arena *a = cr_arena_new();
    struct cr_db_rows rows;
    long long after = 0, upto = 0;
    int rc = CR_OK, first = CR_OK;

    *written = 0;
    if (a == NULL)
        return CR_E_INTERNAL;
    /* The newest id now: rows added while we work are the next run's, so a steady stream
     * of payments cannot keep the job running. */
    if ((rc = cr_db_query(a, "SELECT COALESCE(MAX(id), 0) FROM outbox", NULL, 0, &rows)) !=
        CR_OK)
        goto out;
    upto = CR_DB_CELL(&rows, 0, 0)->i;
    for (;;) {
        cr_arena_reset(a);
        /* A range scan of ix_outbox_status (status, id): only pending rows are read. */
        struct cr_db_val p[] = {CR_DB_I(after), CR_DB_I(upto), CR_DB_I(CR_OUTBOX_DRAIN_BATCH)};
        if ((rc = cr_db_query(a,
                              "SELECT id FROM outbox WHERE status = 'PENDING' AND id > ? "
                              "AND id <= ? ORDER BY id LIMIT ?",
                              p, 3, &rows)) != CR_OK)
            goto out;
        for (int r = 0; r < rows.nrows; r++) {
            int one = 0;
            after = CR_DB_CELL(&rows, r, 0)->i;
            int drc = cr_outbox_deliver(a, after, &one);
            if (drc != CR_OK && first == CR_OK)
                first = drc;
            *written += one;
        }
        if (rows.nrows < CR_OUTBOX_DRAIN_BATCH)
            break;
    }
out:
    cr_arena_free(a);
    return rc != CR_OK ? rc : first;
}
