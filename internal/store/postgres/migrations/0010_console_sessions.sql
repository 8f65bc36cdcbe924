-- Console sessions, shared by every node: by a hash of the session id,
-- with the hash of the token signed in with (never its secret).
CREATE TABLE console_sessions (
	hash       TEXT PRIMARY KEY,
	token_hash BYTEA NOT NULL,
	created    BIGINT NOT NULL,
	seen       BIGINT NOT NULL,
	state      BYTEA
);
CREATE INDEX console_sessions_seen ON console_sessions (seen);
