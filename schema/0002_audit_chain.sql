-- 0002_audit_chain: a SHA-256 hash chain over the journal, and the one path by
-- which rows may leave it (retention).
--
-- hash = SHA-256 over the row's canonical encoding and prev_hash (daemon/audit.c);
-- prev_hash is the hash of the row before it, 64 zeros for the first row ever.
-- store.c computes both at append time; rows written before this migration get
-- theirs once, in id order, the first time store_open() runs after it.

ALTER TABLE journal ADD COLUMN prev_hash TEXT;
ALTER TABLE journal ADD COLUMN hash TEXT;

-- The only update allowed: filling in the hashes of a row that has none, with
-- every other column unchanged.
DROP TRIGGER journal_no_update;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
	AND NEW.id IS OLD.id AND NEW.time IS OLD.time AND NEW.lane IS OLD.lane
	AND NEW.check_id IS OLD.check_id AND NEW.step IS OLD.step AND NEW.value IS OLD.value
	AND NEW.source IS OLD.source AND NEW.code_kind IS OLD.code_kind
	AND NEW.code_hash IS OLD.code_hash AND NEW.request_id IS OLD.request_id
	AND NEW.detail IS OLD.detail)
BEGIN
	SELECT RAISE(ABORT, 'journal is append-only');
END;

-- Retention: the purge transaction (store_purge) writes meta 'purge_below' = the
-- first id it keeps, deletes the rows below it and removes the meta row again.
-- Nothing else may delete.
DROP TRIGGER journal_no_delete;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
WHEN OLD.id >= COALESCE((SELECT CAST(CAST(value AS TEXT) AS INTEGER) FROM meta
			 WHERE key = 'purge_below'), 0)
BEGIN
	SELECT RAISE(ABORT, 'journal is append-only');
END;

-- New rows come with their hashes (only store.c writes the journal).
CREATE TRIGGER journal_hashed BEFORE INSERT ON journal
WHEN NEW.hash IS NULL OR NEW.prev_hash IS NULL
BEGIN
	SELECT RAISE(ABORT, 'journal rows carry their hash');
END;
