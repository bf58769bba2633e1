-- A dead letter is one message: its position (topic, partition, offset) and its bytes. The position
-- alone repeats when a topic is deleted and made again, or offsets are reused after a broker lost
-- data (an unclean leader election): the record of a new poison message was then dropped as a
-- "duplicate" of an old one and never reached the console. A second record of the same message
-- (the consumer dead-lettered it again after a restart) is still a no-op.
-- Runs unchanged on MariaDB 10.11 and MySQL 8.
ALTER TABLE dead_letter ADD COLUMN payload_sha256 CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '' AFTER payload;
UPDATE dead_letter SET payload_sha256 = SHA2(payload, 256);
ALTER TABLE dead_letter
  DROP KEY uk_dead_letter_position,
  ADD UNIQUE KEY uk_dead_letter_message (topic, partition_no, offset_no, payload_sha256);
