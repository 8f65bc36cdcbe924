-- Certificates, ACME accounts and challenges (issue 3), and the certificate
-- lifecycle's state on each domain. Portable SQL: the PostgreSQL backend
-- uses the same statements with BYTEA for BLOB and BIGINT for INTEGER.

CREATE TABLE certificates (
	name        TEXT PRIMARY KEY,
	issuer      TEXT NOT NULL,
	chain_pem   BLOB NOT NULL,
	sealed_key  BLOB NOT NULL, -- PKCS#8 sealed with the master key, bound to name
	not_before  INTEGER NOT NULL,
	not_after   INTEGER NOT NULL,
	fingerprint TEXT NOT NULL,
	renew_at    INTEGER -- NULL for manual certificates
);

CREATE TABLE acme_accounts (
	directory_url TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	url           TEXT NOT NULL,
	sealed_key    BLOB NOT NULL
);

CREATE TABLE acme_challenges (
	type     TEXT NOT NULL,
	key      TEXT NOT NULL,
	name     TEXT NOT NULL,
	key_auth TEXT NOT NULL,
	expires  INTEGER NOT NULL,
	PRIMARY KEY (type, key)
);
CREATE INDEX acme_challenges_expires ON acme_challenges (expires);

ALTER TABLE domains ADD COLUMN cert_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN cert_fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN cert_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN cert_not_before INTEGER;
ALTER TABLE domains ADD COLUMN cert_not_after INTEGER;
ALTER TABLE domains ADD COLUMN cert_renew_at INTEGER;
ALTER TABLE domains ADD COLUMN issue_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN issue_retry_at INTEGER;
ALTER TABLE domains ADD COLUMN moved_since INTEGER;
ALTER TABLE domains ADD COLUMN expiry_warned_at INTEGER;
