-- The number of the last change an operator made to a schedule's sale state or queue settings.
-- The queue's copy of them in Redis keeps the version it was written with and is replaced only by
-- a newer one, so two changes that reach Redis in the opposite order from their commits leave the
-- newer in place, and the periodic restore brings any older copy up to the database's.
-- Runs unchanged on MariaDB 10.11 and MySQL 8.
ALTER TABLE schedule ADD COLUMN controls_version BIGINT NOT NULL DEFAULT 0;
