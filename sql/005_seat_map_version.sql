-- 005_seat_map_version.sql: a version per schedule's seat map, bumped by every write of seats.
--
-- Issue 15 (the seat-map read model). Each worker keeps a copy of the seat maps it served and
-- checks it with one primary-key read of seat_map_versions.version per request instead of
-- reading the schedule's 50 seat rows (src/lib/cr_catalog.c). That is only right if no write
-- of a seat can commit without a new version, so the bump is a trigger on seats: it runs in
-- the same transaction (and statement) as every INSERT, UPDATE and DELETE of a seat, whoever
-- makes it (holds, cancels, payments, refunds, the expiry job, loaders, the tests' fixtures,
-- a hand-written UPDATE), at no extra round trip. A reader's map query reads the version and
-- the seats in one statement (one read view), so a map is never newer or older than the
-- version it is stored with.
--
-- A table of its own rather than a column of schedules: a trigger cannot write a table the
-- statement that fired it reads (error 1442), and statements on seats join schedules (the
-- loaders, the tests' cleanup). The upsert makes the row when a schedule's first seat is
-- written, so nothing that creates schedules has to know about it; a schedule without a row
-- reads as version 0.
--
-- The row is locked from the seat write to COMMIT, so writes of one schedule's seats commit
-- one at a time (bench/RESULTS.md measures the cost: the hold's seat UPDATE is its last
-- statement, so the lock is held for the COMMIT alone).

CREATE TABLE seat_map_versions (
  schedule_id  BIGINT UNSIGNED NOT NULL,
  version      BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (schedule_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO seat_map_versions (schedule_id, version)
SELECT DISTINCT schedule_id, 1 FROM seats;

CREATE TRIGGER tr_seats_version_insert AFTER INSERT ON seats FOR EACH ROW
  INSERT INTO seat_map_versions (schedule_id, version) VALUES (NEW.schedule_id, 1)
  ON DUPLICATE KEY UPDATE version = version + 1;

CREATE TRIGGER tr_seats_version_update AFTER UPDATE ON seats FOR EACH ROW
  INSERT INTO seat_map_versions (schedule_id, version) VALUES (NEW.schedule_id, 1)
  ON DUPLICATE KEY UPDATE version = version + 1;

CREATE TRIGGER tr_seats_version_delete AFTER DELETE ON seats FOR EACH ROW
  INSERT INTO seat_map_versions (schedule_id, version) VALUES (OLD.schedule_id, 1)
  ON DUPLICATE KEY UPDATE version = version + 1;
