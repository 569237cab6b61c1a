-- invariants.sql: what must hold after any load, whatever it was. One row per invariant:
-- its name and the number of rows that break it; bench/run fails loudly on any non-zero.
-- (The cap on active tokens lives in Redis: bench/run checks ZCARD {q}:active itself.)
-- Read-only; run as root against the bench stack's database "concert".

-- 1. No seat sold or held twice: at most one live (HELD or PAID) reservation per seat ...
SELECT 'seat_with_two_live_reservations', COUNT(*) FROM (
  SELECT seat_id FROM reservations WHERE status IN ('HELD', 'PAID')
  GROUP BY seat_id HAVING COUNT(*) > 1) AS v
UNION ALL
-- ... and a HELD or SOLD seat points at a reservation of that seat in the matching state.
SELECT 'held_seat_without_its_held_reservation', COUNT(*)
  FROM seats AS s LEFT JOIN reservations AS r ON r.id = s.reservation_id
  WHERE s.status = 'HELD' AND (r.id IS NULL OR r.seat_id <> s.id OR r.status <> 'HELD')
UNION ALL
SELECT 'reservation_held_but_seat_not_its', COUNT(*)
  FROM reservations AS r JOIN seats AS s ON s.id = r.seat_id
  WHERE r.status = 'HELD' AND r.expires_at > UTC_TIMESTAMP(3)
    AND (s.status <> 'HELD' OR s.reservation_id IS NULL OR s.reservation_id <> r.id)
UNION ALL
-- 2. Every SOLD seat has exactly one PAID reservation, and that reservation one payment;
--    every PAID reservation's seat is SOLD to it.
SELECT 'sold_seat_without_exactly_one_paid_reservation', COUNT(*) FROM (
  SELECT s.id FROM seats AS s
    LEFT JOIN reservations AS r ON r.seat_id = s.id AND r.status = 'PAID'
  WHERE s.status = 'SOLD' GROUP BY s.id HAVING COUNT(r.id) <> 1) AS v
UNION ALL
SELECT 'paid_reservation_without_its_payment', COUNT(*)
  FROM reservations AS r LEFT JOIN payments AS p ON p.id = r.payment_id
  WHERE r.status = 'PAID' AND (p.id IS NULL OR p.user_id <> r.user_id)
UNION ALL
SELECT 'paid_reservation_whose_seat_is_not_sold_to_it', COUNT(*)
  FROM reservations AS r JOIN seats AS s ON s.id = r.seat_id
  WHERE r.status = 'PAID' AND (s.status <> 'SOLD' OR s.reservation_id <> r.id)
UNION ALL
SELECT 'payment_amount_not_its_reservations_total', COUNT(*) FROM (
  SELECT p.id FROM payments AS p LEFT JOIN reservations AS r ON r.payment_id = p.id
  GROUP BY p.id, p.amount HAVING COUNT(r.id) = 0 OR SUM(r.price) <> p.amount) AS v
UNION ALL
-- 3. Every balance equals the sum of its entries, and never goes below zero.
SELECT 'balance_not_sum_of_entries', COUNT(*)
  FROM users AS u
  LEFT JOIN (SELECT user_id, SUM(amount) AS total FROM balance_entries GROUP BY user_id) AS e
    ON e.user_id = u.id
  WHERE u.balance <> COALESCE(e.total, 0) OR u.balance < 0
UNION ALL
-- 4. No payment without its PAYMENT entry (exactly one, of minus the amount, same user).
SELECT 'payment_without_its_entry', COUNT(*)
  FROM payments AS p
  LEFT JOIN (SELECT payment_id, MIN(user_id) AS user_id, COUNT(*) AS n, SUM(amount) AS total
             FROM balance_entries WHERE type = 'PAYMENT' GROUP BY payment_id) AS e
    ON e.payment_id = p.id
  WHERE e.payment_id IS NULL OR e.n <> 1 OR e.total <> -p.amount OR e.user_id <> p.user_id
UNION ALL
SELECT 'payment_entry_without_its_payment', COUNT(*)
  FROM balance_entries AS b LEFT JOIN payments AS p ON p.id = b.payment_id
  WHERE b.type = 'PAYMENT' AND p.id IS NULL
UNION ALL
-- 5. Refunds (API.md 17). A REFUNDED reservation keeps its payment and let go of its seat: no
--    seat is still SOLD to (or held for) a refunded reservation.
SELECT 'refunded_reservation_without_its_payment', COUNT(*)
  FROM reservations AS r LEFT JOIN payments AS p ON p.id = r.payment_id
  WHERE r.status = 'REFUNDED' AND (p.id IS NULL OR p.user_id <> r.user_id)
UNION ALL
SELECT 'seat_still_taken_by_a_refunded_reservation', COUNT(*)
  FROM seats AS s JOIN reservations AS r ON r.id = s.reservation_id
  WHERE r.status = 'REFUNDED'
UNION ALL
-- ... every refunded reservation has exactly one REFUND entry, of plus its price, for its user
--    and its payment; and every REFUND entry is one of those.
SELECT 'refunded_reservation_without_its_entry', COUNT(*)
  FROM reservations AS r
  LEFT JOIN (SELECT reservation_id, MIN(user_id) AS user_id, MIN(payment_id) AS payment_id,
                    COUNT(*) AS n, SUM(amount) AS total
             FROM balance_entries WHERE type = 'REFUND' GROUP BY reservation_id) AS e
    ON e.reservation_id = r.id
  WHERE r.status = 'REFUNDED' AND (e.reservation_id IS NULL OR e.n <> 1 OR e.total <> r.price
    OR e.user_id <> r.user_id OR e.payment_id <> r.payment_id)
UNION ALL
SELECT 'refund_entry_without_its_refunded_reservation', COUNT(*)
  FROM balance_entries AS b LEFT JOIN reservations AS r ON r.id = b.reservation_id
  WHERE b.type = 'REFUND' AND (r.id IS NULL OR r.status <> 'REFUNDED')
UNION ALL
-- ... a payment's amount - refunded_amount is what its PAID reservations cost, and
--    refunded_amount what its REFUNDED ones cost.
SELECT 'payment_refunded_amount_not_its_refunds', COUNT(*) FROM (
  SELECT p.id FROM payments AS p LEFT JOIN reservations AS r ON r.payment_id = p.id
  GROUP BY p.id, p.amount, p.refunded_amount
  HAVING COALESCE(SUM(CASE WHEN r.status = 'PAID' THEN r.price END), 0)
           <> p.amount - p.refunded_amount
      OR COALESCE(SUM(CASE WHEN r.status = 'REFUNDED' THEN r.price END), 0)
           <> p.refunded_amount) AS v
UNION ALL
-- ... and the payment history never shows more refunded than was (it may lag behind until
--    its outbox row is delivered).
SELECT 'history_refunded_ahead_of_its_payment', COUNT(*)
  FROM payment_history AS h JOIN payments AS p ON p.id = h.payment_id
  WHERE h.refunded_amount > p.refunded_amount OR h.amount <> p.amount;
