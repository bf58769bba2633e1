-- Per-user seat slots (issue 14: fewer statements per booking). Each live reservation of a user on
-- a schedule takes one of the slots 1..hold.max-seats-per-user, and the unique key below lets no
-- two live rows share one. The per-user limit is then kept by the database itself, so a first
-- hold can be a single INSERT without first locking the user's row to count their seats; any
-- refusal (a taken seat or slot) falls back to the locked path, which decides over the locked rows.
-- Dead rows (active NULL) free their slot, as they free their seat.
ALTER TABLE reservation
  ADD COLUMN holder_slot SMALLINT UNSIGNED NULL AFTER active,
  ADD UNIQUE KEY uk_reservation_holder_slot (schedule_id, user_id, holder_slot, active);

-- Live rows made before this migration get slots 1..n per user and schedule in id order.
UPDATE reservation r
  JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY schedule_id, user_id ORDER BY id) AS slot
          FROM reservation WHERE active = 1) numbered ON numbered.id = r.id
   SET r.holder_slot = numbered.slot;
