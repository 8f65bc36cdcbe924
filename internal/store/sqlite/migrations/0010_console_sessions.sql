-- Console sessions, shared by every node: by a hash of the session id,
-- with the hash of the token signed in with (never its secret).
CREATE TABLE console_sessions (
	hash       TEXT PRIMARY KEY,
	token_hash BLOB NOT NULL,
	created    INTEGER NOT NULL,
	seen       INTEGER NOT NULL,
	state      BLOB
);
CREATE INDEX console_sessions_seen ON console_sessions (seen);
