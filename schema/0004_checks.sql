-- 0004_checks: one row per check, the record managers export (daemon/checkrec.h),
-- kept by store.c as the journal grows: inserted with the check's scan row and
-- rewritten with each later row of the check, in the same transaction. An export
-- then reads one row per check instead of assembling each check from its journal
-- rows.
--
-- The journal stays the evidence: a record is derived from it, carries the ids and
-- hashes of the rows it was made from, and `audit verify` rebuilds every record from
-- the journal and compares. Records go with their scan row when retention purges it.
--
-- record: the encoded fields (checkrec.h); seal: SHA-256 over check_id, time and
-- record, which every export line carries; last_id: the check's last row so far.

CREATE TABLE checks (
	check_id INTEGER PRIMARY KEY REFERENCES journal(id) ON DELETE CASCADE,
	time INTEGER NOT NULL,  -- the scan row's time, Unix ms UTC
	last_id INTEGER NOT NULL,
	record TEXT NOT NULL,
	seal TEXT NOT NULL
) STRICT;

-- Checks journaled before this migration get their records once, in id order, the
-- first time store_open() runs after it; this row asks for that and goes with it.
INSERT INTO meta (key, value) VALUES ('checks_backfill', CAST('pending' AS BLOB));
