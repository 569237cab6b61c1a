-- 004_refunds.sql: refunds (API.md 17, issue 18).
--
-- A refund turns a PAID reservation REFUNDED, its seat AVAILABLE, credits the price back by a
-- REFUND balance entry and grows the payment's refunded_amount, all in one transaction
-- (src/lib/cr_refund.c). What this migration adds makes a double refund impossible even if the
-- code had a bug, and lets bench/invariants.sql check every refund against its entry.
SET time_zone = '+00:00';

-- A REFUNDED reservation keeps its payment_id (the payment it was refunded from) and its
-- expires_at. It is no longer live: its seat is free for anyone.
ALTER TABLE reservations
  MODIFY COLUMN status ENUM('HELD','PAID','EXPIRED','CANCELLED','REFUNDED') NOT NULL DEFAULT 'HELD',
  ADD COLUMN refunded_at DATETIME(3) NULL AFTER payment_id;

-- payments.refunded_amount: the sum of the prices of its REFUNDED reservations, amount stays
-- what was paid. The CHECK keeps a refund from ever giving back more than was paid.
ALTER TABLE payments
  ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0 AFTER amount,
  ADD CONSTRAINT ck_payments_refunded CHECK (refunded_amount >= 0 AND refunded_amount <= amount);

-- balance_entries.reservation_id: the reservation a REFUND entry gives back (NULL for CHARGE
-- and PAYMENT entries). Unique: one refund entry per reservation, whatever races (NULLs do not
-- collide in a unique key).
ALTER TABLE balance_entries
  ADD COLUMN reservation_id BIGINT UNSIGNED NULL AFTER payment_id,
  ADD UNIQUE KEY uq_balance_entries_reservation (reservation_id),
  ADD CONSTRAINT ck_balance_entries_refund CHECK (
    (type = 'REFUND' AND reservation_id IS NOT NULL AND payment_id IS NOT NULL)
    OR (type <> 'REFUND' AND reservation_id IS NULL));

-- payment_history.refunded_amount: what GET /users/{userId}/payments shows, written from the
-- outbox like the row itself (kind PAYMENT_REFUND), never ahead of payments.refunded_amount.
ALTER TABLE payment_history
  ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0 AFTER amount;
