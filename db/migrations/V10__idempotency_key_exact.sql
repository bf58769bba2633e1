-- Idempotency-Key is 1–255 printable ASCII (DESIGN.md §5) and compared byte for byte: under the
-- table's utf8mb4_unicode_ci, 'Key-A' and 'key-a' were one key, so a second order under a key
-- differing only in case was refused as a reused key (422) or replayed. (Trailing spaces still
-- compare equal under ascii_bin, a PAD SPACE collation; HTTP strips them from header values.)
-- Runs unchanged on MariaDB 10.11 and MySQL 8.
ALTER TABLE payment_order MODIFY idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
