-- The retention purge deletes by age, a batch at a time: without these indexes every batch would
-- scan the whole table. processed_event ids go after kafka.outbox-retention; refresh tokens a day
-- after they expire (until then a spent one presented again still revokes its family).
CREATE INDEX idx_processed_event_at ON processed_event (processed_at);
CREATE INDEX idx_refresh_token_expiry ON refresh_token (expires_at);
