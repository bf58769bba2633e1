-- Accounts and sessions (DESIGN.md §12). Runs unchanged on MariaDB 10.11 and MySQL 8.
-- Existing rows (demo users from before this migration) get no password: they cannot sign in until
-- `ticketing seed` gives the demo users the demo password.
ALTER TABLE user_account
  ADD COLUMN password_hash VARCHAR(255) NULL,
  ADD COLUMN role VARCHAR(16) NOT NULL DEFAULT 'FAN',
  ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'ACTIVE',
  ADD CONSTRAINT ck_user_account_role CHECK (role IN ('FAN', 'ADMIN')),
  ADD CONSTRAINT ck_user_account_status CHECK (status IN ('ACTIVE', 'DISABLED'));

-- Refresh tokens are stored only as SHA-256 hashes. A family is one sign-in: each refresh spends
-- the presented token and adds the next one to the same family; presenting a spent token revokes
-- the whole family (the token was stolen and used by two parties).
CREATE TABLE refresh_token (
  id          BIGINT      NOT NULL AUTO_INCREMENT,
  token_hash  CHAR(64)    NOT NULL,
  family_id   CHAR(32)    NOT NULL,
  user_id     BIGINT      NOT NULL,
  expires_at  DATETIME(3) NOT NULL,
  spent_at    DATETIME(3) NULL,
  revoked_at  DATETIME(3) NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_refresh_token_hash (token_hash),
  KEY idx_refresh_token_family (family_id),
  KEY idx_refresh_token_user (user_id),
  CONSTRAINT fk_refresh_token_user FOREIGN KEY (user_id) REFERENCES user_account (id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- The admission slot that created an order: the issue time of the queue token used for `ready`.
-- A confirmation revokes that slot only, never a newer one the user has since (DESIGN.md §5).
ALTER TABLE payment_order
  ADD COLUMN slot_token_issued_at DATETIME(3) NULL;
