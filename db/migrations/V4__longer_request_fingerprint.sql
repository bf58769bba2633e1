-- A ready request names up to 64 seats: its fingerprint ("<user>:<schedule>:<seat>,<seat>,...")
-- can pass 512 characters, which made `ready` fail (500) for large orders.
ALTER TABLE payment_order MODIFY COLUMN request_fingerprint VARCHAR(2048) NOT NULL DEFAULT '';
