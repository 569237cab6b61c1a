-- demo.sql: demo catalogue (load after the migrations).
--
--   3 concerts (ids 1-3) x 5 schedules (ids 1-15, concert c has 5c-4 .. 5c)
--   x 50 seats (seat 1-10: 150000, 11-30: 110000, 31-50: 77000 won), on sale
--   from the time of loading; and concert 4 with one schedule (id 16, same
--   seats) whose sales open 5 minutes after loading, to watch an opening.
--
-- Schedule dates are relative to the time of loading, so the demo never goes
-- stale: concert c plays on days 7,14,21,28,35 (+ c-1) from today, at
-- 10:00 UTC (19:00 in Seoul, KST = UTC+9).
--
-- Safe to run again: ids are fixed, a re-run refreshes titles, venues and
-- schedule dates (pushing them back into the future) and adds missing seats;
-- it leaves the sales of schedules 1-15 open and moves schedule 16's opening
-- to 5 minutes after the re-run.
-- It never touches seat status, holds, users, reservations or payments.
-- Needs the SEQUENCE engine (seq_1_to_N tables), built into MariaDB 10.11.

SET NAMES utf8mb4;
SET time_zone = '+00:00';

INSERT INTO concerts (id, title, venue) VALUES
  (1, 'Seoul Philharmonic Orchestra: Beethoven Symphony No. 9',
      'Lotte Concert Hall, Songpa-gu, Seoul'),
  (2, 'Neon Harbor Live Tour: Seoul',
      'KSPO Dome, Olympic Park, Seoul'),
  (3, 'Han River Jazz Night with the Mapo Quartet',
      'Blue Square Mastercard Hall, Yongsan-gu, Seoul'),
  (4, 'Opening Night: Seoul Indie Showcase',
      'Rolling Hall, Mapo-gu, Seoul')
ON DUPLICATE KEY UPDATE title = VALUES(title), venue = VALUES(venue);

-- 5 schedules per concert: id = 5*(concert-1) + k, k = 1..5, on sale from now.
INSERT INTO schedules (id, concert_id, starts_at, sales_open_at, total_seats)
SELECT 5 * (c.id - 1) + k.seq,
       c.id,
       CAST(UTC_DATE() + INTERVAL (7 * k.seq + c.id - 1) DAY + INTERVAL 10 HOUR AS DATETIME(3)),
       UTC_TIMESTAMP(3),
       50
  FROM concerts AS c
  JOIN seq_1_to_5 AS k
 WHERE c.id BETWEEN 1 AND 3
ON DUPLICATE KEY UPDATE starts_at = VALUES(starts_at), total_seats = VALUES(total_seats);

-- Schedule 16 (concert 4), in 3 days: its sales open 5 minutes after loading.
INSERT INTO schedules (id, concert_id, starts_at, sales_open_at, total_seats)
VALUES (16, 4,
        CAST(UTC_DATE() + INTERVAL 3 DAY + INTERVAL 10 HOUR AS DATETIME(3)),
        UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE,
        50)
ON DUPLICATE KEY UPDATE starts_at = VALUES(starts_at), sales_open_at = VALUES(sales_open_at),
                        total_seats = VALUES(total_seats);

-- 50 seats per schedule, priced by tier: 750 rows from one INSERT ... SELECT.
-- Existing seats are left alone (the no-op update).
INSERT INTO seats (schedule_id, seat_no, price)
SELECT s.id,
       n.seq,
       CASE WHEN n.seq <= 10 THEN 150000
            WHEN n.seq <= 30 THEN 110000
            ELSE 77000 END
  FROM schedules AS s
  JOIN seq_1_to_50 AS n
 WHERE s.id BETWEEN 1 AND 16
ON DUPLICATE KEY UPDATE seats.id = seats.id;
