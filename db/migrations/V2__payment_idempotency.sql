-- Payment orders remember what request created them (Idempotency-Key replay / reuse detection)
-- and when the gateway reported the payment.
ALTER TABLE payment_order
  ADD COLUMN request_fingerprint VARCHAR(512) NOT NULL DEFAULT '',
  ADD COLUMN paid_at DATETIME(3) NULL;

CREATE INDEX idx_reservation_user_created ON reservation (user_id, created_at);

-- The outbox row says where it goes: topic and message key (the schedule id, so one schedule's
-- events stay in order on one partition).
ALTER TABLE outbox_event
  ADD COLUMN topic VARCHAR(128) NOT NULL DEFAULT '',
  ADD COLUMN message_key VARCHAR(128) NOT NULL DEFAULT '';
