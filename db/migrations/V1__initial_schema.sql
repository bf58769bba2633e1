-- Initial schema (DESIGN.md §4). Runs unchanged on MariaDB 10.11 and MySQL 8.
-- Times are DATETIME(3) in UTC (sessions run with time_zone = '+00:00').

CREATE TABLE user_account (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  email       VARCHAR(255) NOT NULL,
  name        VARCHAR(100) NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_user_account_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE concert (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  title       VARCHAR(200) NOT NULL,
  description TEXT         NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE schedule (
  id               BIGINT      NOT NULL AUTO_INCREMENT,
  concert_id       BIGINT      NOT NULL,
  show_at          DATETIME(3) NOT NULL,
  booking_opens_at DATETIME(3) NOT NULL,
  created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY idx_schedule_concert (concert_id, show_at),
  CONSTRAINT fk_schedule_concert FOREIGN KEY (concert_id) REFERENCES concert (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE seat (
  id          BIGINT        NOT NULL AUTO_INCREMENT,
  schedule_id BIGINT        NOT NULL,
  seat_no     VARCHAR(16)   NOT NULL,
  section     VARCHAR(16)   NOT NULL,
  price       DECIMAL(12,2) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_seat_schedule_seat_no (schedule_id, seat_no),
  CONSTRAINT fk_seat_schedule FOREIGN KEY (schedule_id) REFERENCES schedule (id),
  CONSTRAINT ck_seat_price CHECK (price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE payment_order (
  id              BIGINT        NOT NULL AUTO_INCREMENT,
  order_no        VARCHAR(40)   NOT NULL,
  user_id         BIGINT        NOT NULL,
  schedule_id     BIGINT        NOT NULL,
  amount          DECIMAL(12,2) NOT NULL,
  status          VARCHAR(16)   NOT NULL,
  idempotency_key VARCHAR(255)  NOT NULL,
  fail_reason     VARCHAR(64)   NULL,
  expires_at      DATETIME(3)   NOT NULL,
  created_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_payment_order_no (order_no),
  UNIQUE KEY uk_payment_order_idempotency (user_id, idempotency_key),
  KEY idx_payment_order_status (status, expires_at),
  CONSTRAINT fk_payment_order_user FOREIGN KEY (user_id) REFERENCES user_account (id),
  CONSTRAINT fk_payment_order_schedule FOREIGN KEY (schedule_id) REFERENCES schedule (id),
  CONSTRAINT ck_payment_order_status CHECK (status IN ('READY', 'CONFIRMING', 'PAID', 'CANCELLED', 'FAILED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- active = 1 while HELD or CONFIRMED, NULL otherwise: the unique key (schedule_id, seat_no, active)
-- allows any number of history rows but at most one live row per seat. This is the oversell guard.
CREATE TABLE reservation (
  id               BIGINT      NOT NULL AUTO_INCREMENT,
  user_id          BIGINT      NOT NULL,
  schedule_id      BIGINT      NOT NULL,
  seat_no          VARCHAR(16) NOT NULL,
  status           VARCHAR(16) NOT NULL,
  expires_at       DATETIME(3) NOT NULL,
  payment_order_id BIGINT      NULL,
  active           TINYINT     NULL,
  created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_reservation_active_seat (schedule_id, seat_no, active),
  KEY idx_reservation_user (user_id, schedule_id, status),
  KEY idx_reservation_expiry (status, expires_at),
  KEY idx_reservation_order (payment_order_id),
  CONSTRAINT fk_reservation_user FOREIGN KEY (user_id) REFERENCES user_account (id),
  CONSTRAINT fk_reservation_seat FOREIGN KEY (schedule_id, seat_no) REFERENCES seat (schedule_id, seat_no),
  CONSTRAINT fk_reservation_order FOREIGN KEY (payment_order_id) REFERENCES payment_order (id),
  CONSTRAINT ck_reservation_active CHECK (
    (status IN ('HELD', 'CONFIRMED') AND active = 1) OR (status IN ('EXPIRED', 'CANCELLED') AND active IS NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE outbox_event (
  id           BIGINT      NOT NULL AUTO_INCREMENT,
  event_id     CHAR(36)    NOT NULL,
  aggregate    VARCHAR(64) NOT NULL,
  type         VARCHAR(64) NOT NULL,
  payload      JSON        NOT NULL,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  published_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_outbox_event_id (event_id),
  KEY idx_outbox_pending (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE processed_event (
  event_id     CHAR(36)    NOT NULL,
  processed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
