-- A dead letter is kept byte for byte: a poison message may be anything, invalid UTF-8 included.
-- Text columns turned such bytes into '?' (and cut keys at 255 bytes), so the stored copy could be
-- a valid event the consumer had refused — and a replay settled it. The payload and the key are
-- bytes now; the console shows them as text with invalid sequences replaced.
ALTER TABLE dead_letter
  MODIFY COLUMN payload MEDIUMBLOB NOT NULL,
  MODIFY COLUMN message_key BLOB NULL;
