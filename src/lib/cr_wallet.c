/* cr_wallet.c: users, balance reads, charges (one transaction each) and keyset-paged history. */
#include <stdint.h>
#include <string.h>

#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_time.h"
#include "cr_wallet.h"

int cr_wallet_create_user(struct cr_uuid *out)
{
    int rc = CR_OK;
    /* 74 random bits make a clash practically impossible; should one happen, draw again. */
    for (int i = 0; i < 3; i++) {
        if ((rc = cr_uuid_v7(out, cr_time_now_ms())) != CR_OK)
            return rc;
        struct cr_db_val p[] = {CR_DB_UUID(out)};
        rc = cr_db_exec("INSERT INTO users (uuid) VALUES (?)", p, 1, NULL, NULL);
        if (rc != CR_E_DUPLICATE)
            return rc;
    }
    return CR_E_INTERNAL;
}

int cr_wallet_balance(struct cr_arena *a, const struct cr_uuid *u, long long *balance)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_UUID(u)};
    int rc = cr_db_query(a, "SELECT balance FROM users WHERE uuid = ?", p, 1, &rows);
    if (rc != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;
    *balance = CR_DB_CELL(&rows, 0, 0)->i;
    return CR_OK;
}

json_object *cr_wallet_balance_json(const struct cr_uuid *u, long long balance)
{
    json_object *o = json_object_new_object();
    cr_json_add_uuid(o, "userId", u);
    cr_json_add_int(o, "balance", balance);
    return o;
}

struct cr_wallet_charge_ctx {
    struct cr_arena *a;
    const struct cr_uuid *u;
    long long user_id, amount, max;
    struct cr_idem *idem;
    long long balance; /* out */
    const char *body;  /* out */
};

/* The charge's statements, by internal id ([0]) or, when the caller has not looked the user
 * up, by UUID through uq_users_uuid ([1]). */
static const char *const cr_wallet_sql_add[2] = {
    "UPDATE users SET balance = balance + ?, version = version + 1 "
    "WHERE id = ? AND balance + ? <= ?",
    "UPDATE users SET balance = balance + ?, version = version + 1 "
    "WHERE uuid = ? AND balance + ? <= ?"};
static const char *const cr_wallet_sql_entry[2] = {
    "INSERT INTO balance_entries (user_id, type, amount, balance_after) "
    "SELECT id, 'CHARGE', ?, balance FROM users WHERE id = ? RETURNING balance_after",
    "INSERT INTO balance_entries (user_id, type, amount, balance_after) "
    "SELECT id, 'CHARGE', ?, balance FROM users WHERE uuid = ? RETURNING balance_after"};
static const char *const cr_wallet_sql_exists[2] = {"SELECT id FROM users WHERE id = ?",
                                                    "SELECT id FROM users WHERE uuid = ?"};

/* The charge transaction. The balance moves with one atomic, limit-guarded UPDATE rather
 * than read-modify-write with a version check: the row lock serialises concurrent charges
 * inside InnoDB, so no update is ever lost and nobody has to retry; optimistic retries would
 * make 100 concurrent charges to one user fail and retry over and over (a retry storm) and
 * still need a bound on the retries. The entry is written by INSERT ... SELECT from the row we
 * hold locked, which (READ COMMITTED) reads our own write, so balance_after is exact and the
 * entries step one charge at a time; RETURNING hands that balance back without another
 * SELECT. Without an Idempotency-Key the caller does not look the user up first: 4 round trips
 * (START, UPDATE, INSERT, COMMIT) instead of 6, about 10 % more charges per second against
 * the same-run baseline (bench/RESULTS.md). */
static int cr_wallet_charge_txn(void *arg)
{
    struct cr_wallet_charge_ctx *c = arg;
    struct cr_db_rows rows;
    long long affected = 0;
    int by_uuid = c->user_id <= 0, rc;
    struct cr_db_val who = by_uuid ? CR_DB_UUID(c->u) : CR_DB_I(c->user_id);

    struct cr_db_val up[] = {CR_DB_I(c->amount), who, CR_DB_I(c->amount), CR_DB_I(c->max)};
    if ((rc = cr_db_exec(cr_wallet_sql_add[by_uuid], up, 4, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1) {
        /* Nothing changed: an unknown user, or the limit refused it. */
        struct cr_db_val p[] = {who};
        if ((rc = cr_db_query(c->a, cr_wallet_sql_exists[by_uuid], p, 1, &rows)) != CR_OK)
            return rc;
        return rows.nrows == 0 ? CR_E_NOT_FOUND : CR_E_BALANCE_LIMIT;
    }
    struct cr_db_val ins[] = {CR_DB_I(c->amount), who};
    if ((rc = cr_db_query(c->a, cr_wallet_sql_entry[by_uuid], ins, 2, &rows)) != CR_OK)
        return rc;
    if (rows.nrows != 1)
        return CR_E_INTERNAL; /* the row we just updated, under our lock */
    c->balance = CR_DB_CELL(&rows, 0, 0)->i;

    json_object *o = cr_wallet_balance_json(c->u, c->balance);
    c->body = cr_json_text(c->a, o);
    json_object_put(o);
    /* The recorded response commits with the money or not at all. */
    return cr_idem_finish_in_txn(c->idem, 200, c->body);
}

/* The charge without an Idempotency-Key: the same transaction as cr_wallet_charge_txn, run
 * inside the server by one CALL of sql/006's cr_charge: one round trip instead of four (START,
 * UPDATE, INSERT, COMMIT), the ledger entry and the balance still in one transaction. The
 * procedure rolls back on any error before answering, so a deadlock or lock wait timeout here
 * means nothing was written: a deadlock is rerun (as cr_db_txn would), nothing else is. A
 * connection lost during the CALL is CR_E_UNKNOWN (cr_db: a write outside cr_db_txn), never
 * rerun. The time budget is cr_db's: no CALL starts that could end after the deadline. */
static const char cr_wallet_sql_call[] = "CALL cr_charge(?, ?, ?)";
#define CR_WALLET_CALL_TRIES 4

static int cr_wallet_charge_call(struct cr_wallet_charge_ctx *c)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_UUID(c->u), CR_DB_I(c->amount), CR_DB_I(c->max)};
    int rc = CR_E_RETRY;
    for (int attempt = 0; attempt < CR_WALLET_CALL_TRIES && rc == CR_E_RETRY; attempt++)
        rc = cr_db_query(c->a, cr_wallet_sql_call, p, 3, &rows);
    if (rc == CR_E_RETRY)
        return CR_E_UNAVAILABLE;
    if (rc != CR_OK)
        return rc;
    if (rows.nrows != 1 || rows.ncols != 2)
        return CR_E_INTERNAL;
    switch (CR_DB_CELL(&rows, 0, 0)->i) {
    case 0:
        break;
    case 1:
        return CR_E_NOT_FOUND;
    case 2:
        return CR_E_BALANCE_LIMIT;
    default:
        return CR_E_INTERNAL;
    }
    c->balance = CR_DB_CELL(&rows, 0, 1)->i;
    json_object *o = cr_wallet_balance_json(c->u, c->balance);
    c->body = cr_json_text(c->a, o);
    json_object_put(o);
    return CR_OK;
}

int cr_wallet_charge(struct cr_arena *a, const struct cr_uuid *u, long long user_id,
                     long long amount, long long max, struct cr_idem *idem, long long *balance,
                     const char **body)
{
    struct cr_wallet_charge_ctx c = {a, u, user_id, amount, max, idem, 0, NULL};
    int rc = user_id <= 0 && (idem == NULL || idem->key == NULL)
                 ? cr_wallet_charge_call(&c)
                 : cr_db_txn(cr_wallet_charge_txn, &c);
    if (rc != CR_OK)
        return rc;
    *balance = c.balance;
    *body = c.body;
    return CR_OK;
}

int cr_wallet_history(struct cr_arena *a, long long user_id, long long before, int limit,
                      struct cr_wallet_entry **entries, int *n, long long *next)
{
    struct cr_db_rows rows;
    int rc;

    *entries = NULL;
    *n = 0;
    *next = 0;
    if (limit < 1 || limit > CR_WALLET_HISTORY_MAX)
        return CR_E_INVALID;
    if (before <= 0)
        before = INT64_MAX;
    /* One backward range scan of ix_balance_entries_user (user_id, id); one row more than
     * asked tells whether another page follows. */
    struct cr_db_val p[] = {CR_DB_I(user_id), CR_DB_I(before), CR_DB_I(limit + 1)};
    rc = cr_db_query(a,
                     "SELECT id, type, amount, balance_after, created_at FROM balance_entries "
                     "WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                     p, 3, &rows);
    if (rc != CR_OK)
        return rc;
    int count = rows.nrows > limit ? limit : rows.nrows;
    struct cr_wallet_entry *e = cr_arena_calloc(a, sizeof(*e) * (size_t)(count + 1));
    for (int r = 0; r < count; r++) {
        e[r].id = CR_DB_CELL(&rows, r, 0)->i;
        e[r].type = CR_DB_CELL(&rows, r, 1)->s;
        e[r].amount = CR_DB_CELL(&rows, r, 2)->i;
        e[r].balance_after = CR_DB_CELL(&rows, r, 3)->i;
        e[r].created_at = CR_DB_CELL(&rows, r, 4)->i;
    }
    if (rows.nrows > limit)
        *next = e[count - 1].id;
    *entries = e;
    *n = count;
    return CR_OK;
}
