-- The retention purge deletes processed-event ids by age, a batch at a time: without this index
-- every batch would scan the whole table.
CREATE INDEX idx_processed_event_at ON processed_event (processed_at);
