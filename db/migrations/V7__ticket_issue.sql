-- E-tickets (DESIGN.md §13, docs/tickets.md). A ticket is a reservation row that was CONFIRMED:
-- confirmed_at says when (the ticket's signed issued-at, so its QR payload never changes), and it
-- stays set when the row later leaves CONFIRMED (a refund), which is what puts the ticket on the
-- revocation list. The index finds those revoked rows without scanning live or history rows.
ALTER TABLE reservation
  ADD COLUMN confirmed_at DATETIME(3) NULL AFTER holder_slot,
  ADD KEY idx_reservation_revoked (status, confirmed_at);

-- Tickets confirmed before this migration were confirmed at their last update.
UPDATE reservation SET confirmed_at = updated_at WHERE status = 'CONFIRMED';
