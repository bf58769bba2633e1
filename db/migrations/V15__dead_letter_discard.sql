-- An operator can set a dead letter aside without replaying it (one that cannot be decoded, or an
-- event for an order that no longer exists): it leaves the pending list and the DLQ size, and keeps
-- when and why. Replaying stays possible.
ALTER TABLE dead_letter
  ADD COLUMN discarded_at DATETIME(3) NULL AFTER replayed_at,
  ADD COLUMN discard_reason VARCHAR(255) NULL AFTER discarded_at;
