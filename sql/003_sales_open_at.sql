-- Issue 18: when sales open.
--
-- schedules.sales_open_at: a hold (POST /api/v1/reservations) on the schedule is allowed from
-- this time on; before it the hold is 409 SALES_NOT_OPEN, decided by the seat's conditional
-- UPDATE itself (src/lib/cr_hold.c), so there is no window at the opening second. The seat map
-- is readable either way. Existing schedules are open from now (or from their start, for
-- those already past). The default keeps a schedule inserted without it (tests, old scripts)
-- open from its insertion. concert-admin keeps sales_open_at <= starts_at; no CHECK says so,
-- because schedules already past (inserted for tests) would fail it with the default.
SET time_zone = '+00:00';

ALTER TABLE schedules
  ADD COLUMN sales_open_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) AFTER starts_at;

UPDATE schedules SET sales_open_at = LEAST(UTC_TIMESTAMP(3), starts_at);
