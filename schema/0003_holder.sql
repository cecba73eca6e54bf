-- 0003_holder: the masked personal data of a Gosuslugi check (initials, birth date,
-- passport fragment, as the portal masks them), kept beside the hash chain instead
-- of in it, so that the privacy policy can drop it after N days while every chained
-- row stays as it was. The check's verdict row commits to it: its detail carries
-- holder_digest = SHA-256 over the salt and the fields (daemon/holder.c); the salt is
-- random and lives only here, so once the row is dropped the digest tells nothing.
-- Rows go with their check when retention purges it.

CREATE TABLE holder (
	check_id INTEGER PRIMARY KEY REFERENCES journal(id) ON DELETE CASCADE,
	time INTEGER NOT NULL,  -- Unix ms UTC when it was stored; the drop goes by this
	salt TEXT NOT NULL,     -- 32 hex digits
	initials TEXT NOT NULL,
	birth_date TEXT NOT NULL,
	doc TEXT NOT NULL
) STRICT;

CREATE INDEX holder_time ON holder(time);
