-- Times are INTEGER Unix nanoseconds (UTC); NULL means the zero time.

CREATE TABLE orgs (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	custom_domain TEXT NOT NULL,
	upstream      TEXT NOT NULL,
	created       INTEGER
);

CREATE TABLE tokens (
	id      TEXT PRIMARY KEY,
	org_id  TEXT NOT NULL, -- '' for the operator
	name    TEXT NOT NULL,
	hash    BLOB NOT NULL UNIQUE,
	prefix  TEXT NOT NULL,
	created INTEGER,
	revoked INTEGER
);
CREATE INDEX tokens_org ON tokens (org_id, id);

CREATE TABLE domains (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL,
	name         TEXT NOT NULL,
	cert_source  TEXT NOT NULL,
	status       TEXT NOT NULL,
	token        TEXT NOT NULL,
	brand_id     TEXT NOT NULL,
	version      INTEGER NOT NULL,
	created      INTEGER,
	updated      INTEGER,
	window_start INTEGER,
	verified_at  INTEGER,
	last_checked INTEGER,
	next_check   INTEGER,
	attempts     INTEGER NOT NULL,
	diagnosis    TEXT NOT NULL, -- JSON array of findings
	UNIQUE (org_id, name)
);
CREATE INDEX domains_org_id ON domains (org_id, id);
CREATE INDEX domains_name ON domains (name, id);
CREATE INDEX domains_next_check ON domains (next_check, id) WHERE next_check IS NOT NULL;

CREATE TABLE events (
	seq            INTEGER PRIMARY KEY,
	uuid           TEXT NOT NULL,
	org_id         TEXT NOT NULL,
	published      INTEGER NOT NULL,
	event_type     TEXT NOT NULL,
	severity       TEXT NOT NULL,
	outcome_result TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	search         TEXT NOT NULL, -- systemlog.SearchText
	body           TEXT NOT NULL  -- the event as JSON
);
CREATE INDEX events_org_seq ON events (org_id, seq);
CREATE INDEX events_published ON events (published);
CREATE INDEX events_type ON events (event_type);
CREATE INDEX events_uuid ON events (uuid);

CREATE TABLE event_targets (
	seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
	pos       INTEGER NOT NULL,
	target_id TEXT NOT NULL,
	PRIMARY KEY (seq, pos)
) WITHOUT ROWID;
CREATE INDEX event_targets_id ON event_targets (target_id, seq);
