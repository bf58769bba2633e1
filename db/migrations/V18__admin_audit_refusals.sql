-- Every /admin call is audited (DESIGN.md §14), a refused one too: an admin's call answered 400,
-- 404, 409, 415 or 422 gets a row of kind REFUSED with the answer it got. Appending a value to the
-- ENUM changes only the table's definition, not its rows.
ALTER TABLE admin_audit MODIFY COLUMN kind ENUM('CHANGE', 'READ', 'REFUSED') NOT NULL DEFAULT 'CHANGE';
