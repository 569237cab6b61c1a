-- Issue 13, findings 6, 9 and 10.
--
-- payments.token_hash: SHA-256 of the queue token that paid, written in the payment's own
-- transaction. A token is spent exactly when its payment commits, so of two concurrent
-- payments with one token the second (serialised behind the first on the user's row) finds
-- it spent and is refused (401), and a replay can tell the token it carries was used. NULL
-- for payments made before this migration. The unique key makes a second use impossible
-- even if the code had a bug.
ALTER TABLE payments
  ADD COLUMN token_hash BINARY(32) NULL AFTER paid_at,
  ADD UNIQUE KEY uq_payments_token (token_hash);

-- idempotency_keys.owner_conn: CONNECTION_ID() of the MariaDB session that made (or took
-- over) an IN_PROGRESS claim. A repeat that finds the claim still running takes it over at
-- once when that session is gone (its worker died or lost its connection), instead of after
-- the 30 s stale-claim time. NULL on rows written before this migration.
ALTER TABLE idempotency_keys
  ADD COLUMN owner_conn BIGINT UNSIGNED NULL AFTER created_at;
