-- The unit of change: fenced leases beside the schedule, the outbox every
-- edge learns from, one proven domain per name enforced by the database,
-- and the certificate row as the one record of what is served.

-- A claim holds an owner, a token and an expiry of its own; next_check is
-- only ever when the domain is due next.
ALTER TABLE domains ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN lease_until INTEGER;

-- Before this version two orgs racing could both prove one name. The first
-- to have proven it keeps it; the other goes back to verification.
UPDATE domains SET status = 'IN_PROGRESS', next_check = COALESCE(next_check, updated, created)
WHERE status IN ('VERIFIED', 'COMPLETED') AND EXISTS (
	SELECT 1 FROM domains o
	WHERE o.name = domains.name AND o.id <> domains.id AND o.status IN ('VERIFIED', 'COMPLETED')
	  AND (COALESCE(o.verified_at, 0) < COALESCE(domains.verified_at, 0)
	       OR (COALESCE(o.verified_at, 0) = COALESCE(domains.verified_at, 0) AND o.id < domains.id)));
CREATE UNIQUE INDEX domains_proven_name ON domains (name) WHERE status IN ('VERIFIED', 'COMPLETED');

-- What the edge serves is read from the certificate row alone.
ALTER TABLE certificates ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE certificates SET subject = COALESCE((SELECT d.cert_subject FROM domains d
	WHERE d.name = certificates.name AND d.status IN ('VERIFIED', 'COMPLETED')), '');

-- One row per committed change of a served certificate, in commit order.
CREATE TABLE outbox (
	seq     INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX outbox_created ON outbox (created);
