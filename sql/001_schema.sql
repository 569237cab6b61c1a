-- 001_schema.sql: initial schema of the concert reservation service (MariaDB 10.11).
--
-- Applied once by the migration script, which records '001' in schema_migrations
-- (that table is the script's, not created here). Plain CREATE TABLE on purpose:
-- re-applying by hand fails loudly instead of silently keeping an old shape.
--
-- Rules for every table:
--   * InnoDB, utf8mb4, ids are BIGINT UNSIGNED AUTO_INCREMENT.
--   * Public ids (users, reservations, payments) are UUIDv7 stored as BINARY(16),
--     internal numeric ids never leave the service except concertId/scheduleId.
--   * Every time column is DATETIME(3) holding UTC. Every connection sets
--     time_zone = '+00:00', so CURRENT_TIMESTAMP(3) defaults are UTC too.
--   * Money is BIGINT won.
--
-- Foreign keys: only concerts <- schedules <- seats (static catalogue rows,
-- written once by the loader, never on a request's write path). The hot tables
-- (users, reservations, payments, balance_entries, idempotency_keys, outbox,
-- payment_history) have none on purpose: in InnoDB an insert into a child
-- table takes a shared lock on the parent row, e.g. inserting a reservation
-- would S-lock the users row that a concurrent payment or charge is
-- X-locking to update the balance, adding lock waits and deadlocks on the
-- busiest paths. The application always writes these rows in one transaction
-- together with the row they point at, so integrity is kept there.

SET time_zone = '+00:00';

-- ---------------------------------------------------------------------------
-- users: a wallet. balance is updated with optimistic locking (version) or an
-- atomic "balance = balance + ?". The CHECK makes an overdraft impossible
-- even if the code has a bug (MariaDB enforces CHECK, error 4025).
-- The upper limit (BALANCE_MAX) is configuration, so it is checked in code.
-- ---------------------------------------------------------------------------
CREATE TABLE users (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  uuid        BINARY(16)      NOT NULL,
  balance     BIGINT          NOT NULL DEFAULT 0,
  version     INT UNSIGNED    NOT NULL DEFAULT 0,
  created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_users_uuid (uuid),               -- every request names the user by UUID
  CONSTRAINT ck_users_balance CHECK (balance >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- concerts / schedules: the catalogue, read-mostly.
-- ---------------------------------------------------------------------------
CREATE TABLE concerts (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  title       VARCHAR(200)    NOT NULL,
  venue       VARCHAR(200)    NOT NULL,
  created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE schedules (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  concert_id   BIGINT UNSIGNED NOT NULL,
  starts_at    DATETIME(3)     NOT NULL,
  total_seats  INT UNSIGNED    NOT NULL,
  PRIMARY KEY (id),
  -- "upcoming schedules of a concert, earliest first": equality on concert_id,
  -- range + order on starts_at, no filesort. Also serves the FK below.
  KEY ix_schedules_concert_starts (concert_id, starts_at),
  -- upcoming schedules across all concerts (listing/cleanup by date)
  KEY ix_schedules_starts (starts_at),
  CONSTRAINT fk_schedules_concert FOREIGN KEY (concert_id) REFERENCES concerts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- seats: one row per seat and schedule: the row that concurrent holds race
-- for. A hold is "UPDATE ... SET status='HELD', ..., version=version+1
-- WHERE id=? AND version=?" (optimistic locking): exactly one writer wins.
-- A HELD seat whose hold_expires_at has passed counts as AVAILABLE at once
-- (queries compare with NOW(3)), the expiry job only tidies up later.
-- holder_user_id / reservation_id / hold_expires_at describe the current
-- hold (or, for SOLD, the hold that was paid).
-- ---------------------------------------------------------------------------
CREATE TABLE seats (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  schedule_id      BIGINT UNSIGNED NOT NULL,
  seat_no          INT UNSIGNED    NOT NULL,
  price            BIGINT          NOT NULL,
  status           ENUM('AVAILABLE','HELD','SOLD') NOT NULL DEFAULT 'AVAILABLE',
  holder_user_id   BIGINT UNSIGNED NULL,
  reservation_id   BIGINT UNSIGNED NULL,
  hold_expires_at  DATETIME(3)     NULL,
  version          INT UNSIGNED    NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  -- seat lookup by (scheduleId, seatNo) and the seat map ordered by seat_no,
  -- also serves the FK to schedules.
  UNIQUE KEY uq_seats_schedule_seat (schedule_id, seat_no),
  -- expiry job: "status='HELD' AND hold_expires_at < NOW(3)" is a range scan
  -- over only the expired holds, not over all seats.
  KEY ix_seats_status_expires (status, hold_expires_at),
  -- availableSeats per schedule: COUNT(*) over (schedule_id, status IN
  -- (AVAILABLE, HELD), hold_expires_at) is answered from this index alone.
  KEY ix_seats_schedule_status_expires (schedule_id, status, hold_expires_at),
  CONSTRAINT fk_seats_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id),
  CONSTRAINT ck_seats_price CHECK (price >= 0),
  -- a HELD seat without an expiry would never become available again
  CONSTRAINT ck_seats_held_expiry CHECK (status <> 'HELD' OR hold_expires_at IS NOT NULL)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- reservations: one row per hold. seat_no, schedule_id and price are copied
-- from the seat so a reservation can be shown without a join and keeps the
-- price it was held at. payment_id is set when it is paid.
-- ---------------------------------------------------------------------------
CREATE TABLE reservations (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  uuid         BINARY(16)      NOT NULL,
  user_id      BIGINT UNSIGNED NOT NULL,
  seat_id      BIGINT UNSIGNED NOT NULL,
  schedule_id  BIGINT UNSIGNED NOT NULL,
  seat_no      INT UNSIGNED    NOT NULL,
  price        BIGINT          NOT NULL,
  status       ENUM('HELD','PAID','EXPIRED','CANCELLED') NOT NULL DEFAULT 'HELD',
  expires_at   DATETIME(3)     NOT NULL,
  payment_id   BIGINT UNSIGNED NULL,
  version      INT UNSIGNED    NOT NULL DEFAULT 0,
  created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_reservations_uuid (uuid),        -- GET/DELETE/pay by reservationId
  -- hold limit: count a user's live holds
  -- (user_id=? AND status='HELD' AND expires_at > NOW(3)) from the index alone.
  KEY ix_reservations_user_status_expires (user_id, status, expires_at),
  -- expiry job: "status='HELD' AND expires_at < NOW(3) LIMIT 500" is a range
  -- scan over just the expired holds.
  KEY ix_reservations_status_expires (status, expires_at),
  -- the live hold of a seat (same user asking again for the seat it holds,
  -- releasing a lazily expired hold before re-holding the seat).
  KEY ix_reservations_seat_status (seat_id, status),
  -- the reservations of one payment (payment response, history rebuild).
  KEY ix_reservations_payment (payment_id),
  CONSTRAINT ck_reservations_price CHECK (price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- payments: one row per successful payment (a failed payment writes nothing).
-- ---------------------------------------------------------------------------
CREATE TABLE payments (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  uuid        BINARY(16)      NOT NULL,
  user_id     BIGINT UNSIGNED NOT NULL,
  amount      BIGINT          NOT NULL,
  paid_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),  -- = creation time
  PRIMARY KEY (id),
  UNIQUE KEY uq_payments_uuid (uuid),
  KEY ix_payments_user (user_id, id),            -- a user's payments, newest first
  CONSTRAINT ck_payments_amount CHECK (amount >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- balance_entries: append-only ledger, every balance change writes one row in
-- the same transaction. id is exposed as an opaque string (entry id / cursor).
-- amount is the signed change: > 0 for CHARGE and REFUND, <= 0 for PAYMENT.
-- ---------------------------------------------------------------------------
CREATE TABLE balance_entries (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id        BIGINT UNSIGNED NOT NULL,
  type           ENUM('CHARGE','PAYMENT','REFUND') NOT NULL,
  amount         BIGINT          NOT NULL,
  balance_after  BIGINT          NOT NULL,
  payment_id     BIGINT UNSIGNED NULL,
  created_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  -- keyset paging newest first:
  -- "WHERE user_id=? AND id < ? ORDER BY id DESC LIMIT 21" is one backward
  -- range scan, no filesort, however long the history.
  KEY ix_balance_entries_user (user_id, id),
  CONSTRAINT ck_balance_entries_after CHECK (balance_after >= 0),
  CONSTRAINT ck_balance_entries_sign CHECK (
    (type = 'PAYMENT' AND amount <= 0) OR (type <> 'PAYMENT' AND amount > 0))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- idempotency_keys: one row per (user, Idempotency-Key). The first request
-- inserts IN_PROGRESS (a duplicate-key error on insert means "seen before"),
-- then stores the final 2xx/4xx response as DONE. A 5xx deletes the row so
-- the client may retry with the same key. request_hash is SHA-256 of the
-- canonical parsed request (endpoint + fields), not of the raw bytes.
-- ---------------------------------------------------------------------------
CREATE TABLE idempotency_keys (
  user_id          BIGINT UNSIGNED NOT NULL,
  -- keys are [A-Za-z0-9_-]{1,64} and case-sensitive: ascii_bin
  idem_key         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  endpoint         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  request_hash     BINARY(32)      NOT NULL,
  state            ENUM('IN_PROGRESS','DONE') NOT NULL DEFAULT 'IN_PROGRESS',
  response_status  SMALLINT UNSIGNED NULL,
  response_body    MEDIUMTEXT      NULL,
  created_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, idem_key),               -- keys are scoped to the user
  KEY ix_idempotency_keys_created (created_at)   -- cleanup of rows older than 24 h
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- outbox: written in the payment transaction, the post-commit step (and the
-- expiry job, for rows left PENDING) turns each row into a payment_history
-- row and marks it DONE. payload is the payment_history row to write.
-- ---------------------------------------------------------------------------
CREATE TABLE outbox (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- 'PAYMENT_HISTORY'
  payment_id  BIGINT UNSIGNED NOT NULL,
  payload     JSON            NOT NULL,          -- MariaDB: LONGTEXT + CHECK (JSON_VALID)
  status      ENUM('PENDING','DONE') NOT NULL DEFAULT 'PENDING',
  attempts    INT UNSIGNED    NOT NULL DEFAULT 0,
  created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  done_at     DATETIME(3)     NULL,
  PRIMARY KEY (id),
  -- one event of a kind per payment
  UNIQUE KEY uq_outbox_kind_payment (kind, payment_id),
  -- retry scan: "status='PENDING' ORDER BY id LIMIT n", oldest first,
  -- touching only pending rows however many are DONE.
  KEY ix_outbox_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- payment_history: the read model behind GET /users/{userId}/payments.
-- UNIQUE payment_id makes the write idempotent (INSERT IGNORE / ON DUPLICATE
-- KEY), so a retried outbox row is written exactly once.
-- ---------------------------------------------------------------------------
CREATE TABLE payment_history (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  payment_id       BIGINT UNSIGNED NOT NULL,
  payment_uuid     BINARY(16)      NOT NULL,
  user_id          BIGINT UNSIGNED NOT NULL,
  reservation_ids  TEXT            NOT NULL,     -- JSON array of reservation UUID strings
  amount           BIGINT          NOT NULL,
  paid_at          DATETIME(3)     NOT NULL,
  created_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_payment_history_payment (payment_id),
  -- a user's payments newest first:
  -- "WHERE user_id=? ORDER BY paid_at DESC, id DESC" without a filesort.
  KEY ix_payment_history_user (user_id, paid_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
