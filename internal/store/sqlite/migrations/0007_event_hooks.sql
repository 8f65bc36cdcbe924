-- Event hooks: Okta's hook object, its sealed auth value and its delivery
-- state (a cursor over events.seq, the commit order, with the backoff of
-- the batch after it).
CREATE TABLE event_hooks (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL,
	created       INTEGER NOT NULL,
	body          TEXT NOT NULL, -- name, description, status, events, channel without the secret
	auth_value    BLOB,          -- sealed.Box, additional data "event-hook-auth:<id>"
	cursor        INTEGER NOT NULL DEFAULT 0,
	failures      INTEGER NOT NULL DEFAULT 0,
	next_attempt  INTEGER,
	last_delivery TEXT NOT NULL DEFAULT ''
);
CREATE INDEX event_hooks_org ON event_hooks (org_id, created);
