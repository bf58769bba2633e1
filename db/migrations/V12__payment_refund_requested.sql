-- Refund requests are written as type 'PaymentRefundRequested', the name DESIGN.md §14 gives the
-- event (they were 'RefundRequested'); rows written before keep one name with the new ones. The
-- payloads already published stay as they were sent.
-- Runs unchanged on MariaDB 10.11 and MySQL 8.
UPDATE outbox_event SET type = 'PaymentRefundRequested' WHERE type = 'RefundRequested';
