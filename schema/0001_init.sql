-- 0001_init: the audit journal, local passes and their uses.
-- Times are Unix milliseconds UTC. Codes appear only as keyed hashes (HMAC-SHA256
-- hex with the installation key in meta).

CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

-- Append-only journal: one row per step of a check, or per lane event.
-- A check is the row with step 'scan'; its later steps point at it by check_id.
CREATE TABLE journal (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	lane TEXT NOT NULL,
	check_id INTEGER REFERENCES journal(id),
	step TEXT NOT NULL CHECK (step IN ('scan', 'verdict', 'attendant', 'grant', 'gate', 'abort', 'event')),
	value TEXT NOT NULL,
	source TEXT,
	code_kind TEXT,
	code_hash TEXT,
	request_id TEXT,
	detail TEXT
) STRICT;

CREATE INDEX journal_check ON journal(check_id, step) WHERE check_id IS NOT NULL;
CREATE INDEX journal_scan_time ON journal(time) WHERE step = 'scan';
CREATE INDEX journal_code ON journal(code_hash, time) WHERE code_hash IS NOT NULL;

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN
	SELECT RAISE(ABORT, 'journal is append-only');
END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN
	SELECT RAISE(ABORT, 'journal is append-only');
END;

-- One row per check, the automatic verdict, the attendant and the gate side by side.
CREATE VIEW check_export AS
SELECT s.id AS check_id,
	s.time AS time,
	s.lane AS lane,
	s.source AS source,
	s.code_kind AS code_kind,
	s.request_id AS request_id,
	COALESCE((SELECT value FROM journal j WHERE j.check_id = s.id AND j.step = 'verdict'
		  ORDER BY j.id DESC LIMIT 1), 'none') AS verdict,
	(SELECT detail FROM journal j WHERE j.check_id = s.id AND j.step = 'verdict'
	 ORDER BY j.id DESC LIMIT 1) AS verdict_detail,
	COALESCE((SELECT value FROM journal j WHERE j.check_id = s.id AND j.step = 'attendant'
		  ORDER BY j.id DESC LIMIT 1), 'not_required') AS attendant,
	COALESCE((SELECT value FROM journal j WHERE j.check_id = s.id AND j.step = 'grant'
		  ORDER BY j.id DESC LIMIT 1), '') AS grant_dir,
	COALESCE((SELECT value FROM journal j WHERE j.check_id = s.id AND j.step = 'gate'
		  ORDER BY j.id DESC LIMIT 1), 'none') AS gate,
	s.detail AS scan_detail
FROM journal s
WHERE s.step = 'scan';

-- Local credentials: gym memberships and theater tickets.
CREATE TABLE passes (
	id INTEGER PRIMARY KEY,
	code_hash TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL CHECK (kind IN ('membership', 'ticket')),
	holder TEXT NOT NULL,
	valid_from INTEGER NOT NULL,   -- Unix seconds UTC, inclusive
	valid_until INTEGER NOT NULL,  -- Unix seconds UTC, exclusive
	uses_per_day INTEGER NOT NULL DEFAULT 0,   -- 0: unlimited (memberships)
	pass_back_min INTEGER NOT NULL DEFAULT 0,  -- memberships: no re-entry within this
	zone TEXT,                                  -- tickets: only lanes of this zone
	imported_at INTEGER NOT NULL
) STRICT;

-- A use is 'pending' from the grant until the pass sensor ('consumed') or the
-- end of the pass window ('annulled'). Pending and consumed uses count as used.
CREATE TABLE pass_uses (
	id INTEGER PRIMARY KEY,
	pass_id INTEGER NOT NULL REFERENCES passes(id),
	lane TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'consumed', 'annulled')),
	created INTEGER NOT NULL,  -- Unix ms
	settled INTEGER            -- Unix ms
) STRICT;

CREATE INDEX pass_uses_pass ON pass_uses(pass_id, state, created);
