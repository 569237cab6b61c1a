/* cr_wallet.h: users and their balance: creation, reading, charging and the balance history. */
#ifndef CR_WALLET_H
#define CR_WALLET_H

#include <json-c/json.h>

#include "cr_arena.h"
#include "cr_idem.h"
#include "cr_uuid.h"

#define CR_WALLET_CHARGE_MAX 10000000LL /* one charge: 1 to 10,000,000 */
#define CR_WALLET_HISTORY_MAX 100       /* entries per history page */

/* One balance_entries row as the history shows it. type points to a static or arena string. */
struct cr_wallet_entry {
    long long id;
    const char *type; /* "CHARGE", "PAYMENT" or "REFUND" */
    long long amount; /* signed change */
    long long balance_after;
    long long created_at; /* ms */
};

/* Creates a user with a new UUIDv7 public id and a zero balance; its id goes to out.
 * CR_OK or a database error. */
int cr_wallet_create_user(struct cr_uuid *out);

/* Reads the balance of the user with public id u. CR_OK, CR_E_NOT_FOUND or a database error. */
int cr_wallet_balance(struct cr_arena *a, const struct cr_uuid *u, long long *balance);

/* The contract's {"userId", "balance"} object; a new object owned by the caller. */
json_object *cr_wallet_balance_json(const struct cr_uuid *u, long long balance);

/* Adds amount to the balance of user (public id u, internal id user_id, or 0 when the caller
 * has not looked it up: then the transaction finds it by u) in one transaction
 * that also writes the CHARGE entry and, through idem (which may carry no key), records the
 * 200 response. The balance may not pass max. On CR_OK, *balance is the new balance and
 * *body the response's JSON text (in a); the caller sends exactly *body. Otherwise
 * CR_E_NOT_FOUND, CR_E_BALANCE_LIMIT (nothing changed), CR_E_IN_PROGRESS (idem was taken
 * over, nothing changed) or a database error. */
int cr_wallet_charge(struct cr_arena *a, const struct cr_uuid *u, long long user_id,
                     long long amount, long long max, struct cr_idem *idem, long long *balance,
                     const char **body);

/* One page of the history of user user_id, newest first: the entries with id < before
 * (before <= 0: from the newest), at most limit (1 to CR_WALLET_HISTORY_MAX). *entries is an
 * arena array of *n entries; *next is the id to pass as before for the next page, or 0 when
 * this is the last one. CR_OK or a database error. */
int cr_wallet_history(struct cr_arena *a, long long user_id, long long before, int limit,
                      struct cr_wallet_entry **entries, int *n, long long *next);

#endif
