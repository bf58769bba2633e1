-- Every /admin call is audited (DESIGN.md §14), reads included: a row says whether it records a
-- change (written in the change's transaction) or a read (written after it was served), so the
-- console can list the changes without scanning past a second-by-second dashboard's reads.
-- Runs unchanged on MariaDB 10.11 and MySQL 8.
ALTER TABLE admin_audit
  ADD COLUMN kind ENUM('CHANGE', 'READ') NOT NULL DEFAULT 'CHANGE' AFTER admin_id,
  ADD KEY idx_admin_audit_kind (kind, id);
