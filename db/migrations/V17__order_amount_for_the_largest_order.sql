-- An order's amount holds the largest order an operator's prices allow: up to 50 seats
-- (hold.max-seats-per-user and a schedule's maxSeatsPerUser stop at 50) of up to 9,999,999,999.99
-- each (a seat's price, DECIMAL(12,2)) is 499,999,999,999.50. With DECIMAL(12,2) an order of two
-- such seats made `ready` fail with "Out of range value for column 'amount'" (a 500).
-- Widening a DECIMAL copies the table: on a large payment_order run it outside a sale.
ALTER TABLE payment_order MODIFY COLUMN amount DECIMAL(15,2) NOT NULL;
