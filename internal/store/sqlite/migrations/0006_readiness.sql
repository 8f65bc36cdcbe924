-- One row that the readiness check rewrites, to learn whether writes succeed.
CREATE TABLE readiness (
	id  INTEGER PRIMARY KEY,
	at  INTEGER NOT NULL,
	pad BLOB NOT NULL
);
