-- What the sqlite backend's migrations 0004 to 0007 added, for PostgreSQL:
-- brands, the readiness row, event hooks and the system log's filter
-- indexes (the q keywords stay a LIKE scan here).

CREATE TABLE brands (
	id                             TEXT PRIMARY KEY,
	org_id                         TEXT NOT NULL,
	name                           TEXT NOT NULL,
	locale                         TEXT NOT NULL,
	custom_privacy_policy_url      TEXT NOT NULL,
	agree_to_custom_privacy_policy BOOLEAN NOT NULL,
	remove_powered_by_okta         BOOLEAN NOT NULL,
	default_app_instance_id        TEXT NOT NULL,
	default_app_link_name          TEXT NOT NULL,
	default_app_classic_uri        TEXT NOT NULL,
	email_domain_id                TEXT NOT NULL,
	created                        BIGINT,
	updated                        BIGINT,
	CONSTRAINT brands_org_name UNIQUE (org_id, name)
);
CREATE INDEX brands_org_id ON brands (org_id, id);
CREATE INDEX domains_brand ON domains (brand_id, id);

CREATE TABLE readiness (
	id BIGINT PRIMARY KEY,
	at BIGINT NOT NULL
);

CREATE TABLE event_hooks (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL,
	created       BIGINT NOT NULL,
	body          TEXT NOT NULL,
	auth_value    BYTEA,
	cursor        BIGINT NOT NULL DEFAULT 0,
	failures      BIGINT NOT NULL DEFAULT 0,
	next_attempt  BIGINT,
	last_delivery TEXT NOT NULL DEFAULT ''
);
CREATE INDEX event_hooks_org ON event_hooks (org_id, created);

CREATE INDEX events_org_type_seq ON events (org_id, event_type, seq);
CREATE INDEX events_org_severity_seq ON events (org_id, severity, seq);
CREATE INDEX events_org_outcome_seq ON events (org_id, outcome_result, seq);
