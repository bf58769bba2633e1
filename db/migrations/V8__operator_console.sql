-- The operator console (issue 16, DESIGN.md §14). Runs unchanged on MariaDB 10.11 and MySQL 8.

-- Sale controls and per-schedule queue settings. NULL settings mean the config defaults
-- (queue.max-active, queue.admit-per-second, hold.max-seats-per-user). The admission job reads
-- state and settings from Redis (queue:{sid}:settings), where the console writes them on every
-- change; these columns are the source of truth they are rebuilt from.
ALTER TABLE schedule
  ADD COLUMN sale_state         VARCHAR(8)        NOT NULL DEFAULT 'OPEN' AFTER booking_opens_at,
  ADD COLUMN prequeue_opens_at  DATETIME(3)       NULL AFTER sale_state,
  ADD COLUMN max_active         INT UNSIGNED      NULL AFTER prequeue_opens_at,
  ADD COLUMN admit_per_second   INT UNSIGNED      NULL AFTER max_active,
  ADD COLUMN max_seats_per_user SMALLINT UNSIGNED NULL AFTER admit_per_second,
  ADD COLUMN venue_id           BIGINT            NULL AFTER concert_id,
  ADD CONSTRAINT ck_schedule_sale_state CHECK (sale_state IN ('OPEN', 'PAUSED', 'CLOSED'));

-- Venues and their seat layouts. A schedule copies its venue's seats into `seat` when it is
-- created (prices per tier may be overridden then), so a layout change never moves a seat that
-- was already sold: a layout used by a schedule with reservations cannot be replaced (409).
CREATE TABLE venue (
  id         BIGINT       NOT NULL AUTO_INCREMENT,
  name       VARCHAR(200) NOT NULL,
  created_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE venue_seat (
  venue_id BIGINT        NOT NULL,
  seat_no  VARCHAR(16)   NOT NULL,
  section  VARCHAR(16)   NOT NULL,
  tier     VARCHAR(16)   NOT NULL,
  price    DECIMAL(12,2) NOT NULL,
  PRIMARY KEY (venue_id, seat_no),
  CONSTRAINT fk_venue_seat_venue FOREIGN KEY (venue_id) REFERENCES venue (id),
  CONSTRAINT ck_venue_seat_price CHECK (price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE schedule
  ADD CONSTRAINT fk_schedule_venue FOREIGN KEY (venue_id) REFERENCES venue (id);

-- Every /admin call that changes something, written in the transaction of the change. Append-only:
-- the service never updates or deletes a row of it.
CREATE TABLE admin_audit (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  admin_id    BIGINT       NOT NULL,
  action      VARCHAR(64)  NOT NULL,
  target      VARCHAR(128) NOT NULL,
  before_json JSON         NULL,
  after_json  JSON         NULL,
  request_id  VARCHAR(64)  NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY idx_admin_audit_target (target, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- payment.completed messages the consumer dead-lettered, kept for the console to list and replay.
CREATE TABLE dead_letter (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  topic       VARCHAR(255) NOT NULL,
  partition_no INT         NOT NULL,
  offset_no   BIGINT       NOT NULL,
  message_key VARCHAR(255) NULL,
  payload     MEDIUMTEXT   NOT NULL,
  error       VARCHAR(512) NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  replayed_at DATETIME(3)  NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_dead_letter_position (topic, partition_no, offset_no),
  KEY idx_dead_letter_pending (replayed_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
