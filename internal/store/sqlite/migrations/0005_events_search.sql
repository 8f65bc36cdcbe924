-- The system log at scale: every filter and the q keywords served by an
-- index, so a filtered page costs the same with 10 million events as with
-- 10,000.

-- Filters on event type, severity and outcome, within an org (an org's
-- token) or across orgs (the operator), each in seq order.
DROP INDEX events_type;
CREATE INDEX events_type_seq ON events (event_type, seq);
CREATE INDEX events_org_type_seq ON events (org_id, event_type, seq);
CREATE INDEX events_org_severity_seq ON events (org_id, severity, seq);
CREATE INDEX events_org_outcome_seq ON events (org_id, outcome_result, seq);
-- Retention deletes the oldest first.
-- (events_published already orders by published.)

-- q: a trigram full-text index over events.search (lower case), which
-- answers substring matches of three characters or more.
CREATE VIRTUAL TABLE events_fts USING fts5(search, content='events', content_rowid='seq', tokenize='trigram case_sensitive 1', detail='none');
INSERT INTO events_fts (events_fts) VALUES ('rebuild');
CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
	INSERT INTO events_fts (rowid, search) VALUES (new.seq, new.search);
END;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
	INSERT INTO events_fts (events_fts, rowid, search) VALUES ('delete', old.seq, old.search);
END;
