-- 006_charge_procedure.sql: a charge without an Idempotency-Key in one round trip (issue 15).
--
-- A charge was START, UPDATE, INSERT ... RETURNING, COMMIT: four round trips, each a wait for
-- the worker and a wake-up of the server, for two row writes. CALL cr_charge(...) runs the same
-- statements inside the server, in one transaction, and answers with one row:
-- (0, balance after) when charged; (1, NULL) no such user; (2, NULL) the limit refused it.
-- Any error rolls the whole transaction back before it reaches the caller (the handler), so a
-- failed CALL never leaves a transaction open on the session and never half-commits: a
-- deadlock (1213) or a lock wait timeout (1205) means nothing was written, and only a
-- connection lost during the CALL leaves the outcome unknown (cr_db: never rerun).
--
-- SQL SECURITY INVOKER: it runs with the runtime user's own rights (rows of users and
-- balance_entries), not the definer's; the runtime user needs EXECUTE (scripts/lib.sh).
-- The charge with an Idempotency-Key stays a cr_db_txn: its recorded answer is written in the
-- same transaction by the library.

DELIMITER //
CREATE PROCEDURE cr_charge(IN p_user BINARY(16), IN p_amount BIGINT, IN p_max BIGINT)
  MODIFIES SQL DATA
  SQL SECURITY INVOKER
BEGIN
  DECLARE v_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_balance BIGINT DEFAULT NULL;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  START TRANSACTION;
  -- The limit-guarded atomic add of cr_wallet.c; the row stays locked until COMMIT.
  UPDATE users SET balance = balance + p_amount, version = version + 1
   WHERE uuid = p_user AND balance + p_amount <= p_max;
  IF ROW_COUNT() = 1 THEN
    SELECT id, balance INTO v_id, v_balance FROM users WHERE uuid = p_user;
    INSERT INTO balance_entries (user_id, type, amount, balance_after)
      VALUES (v_id, 'CHARGE', p_amount, v_balance);
    COMMIT;
    SELECT 0, v_balance;
  ELSE
    ROLLBACK;
    SELECT IF(EXISTS (SELECT 1 FROM users WHERE uuid = p_user), 2, 1), NULL;
  END IF;
END//
DELIMITER ;
