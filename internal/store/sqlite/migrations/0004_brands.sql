-- Brands (issue 12): as in Okta, every custom domain belongs to one brand of
-- its org. Empty strings are unset fields; booleans are 0 or 1. Portable
-- SQL: the PostgreSQL backend uses the same statements with BIGINT for
-- INTEGER.

CREATE TABLE brands (
	id                             TEXT PRIMARY KEY,
	org_id                         TEXT NOT NULL, -- '' for the operator
	name                           TEXT NOT NULL,
	locale                         TEXT NOT NULL,
	custom_privacy_policy_url      TEXT NOT NULL,
	agree_to_custom_privacy_policy INTEGER NOT NULL,
	remove_powered_by_okta         INTEGER NOT NULL,
	default_app_instance_id        TEXT NOT NULL,
	default_app_link_name          TEXT NOT NULL,
	default_app_classic_uri        TEXT NOT NULL,
	email_domain_id                TEXT NOT NULL,
	created                        INTEGER,
	updated                        INTEGER,
	UNIQUE (org_id, name)
);
CREATE INDEX brands_org_id ON brands (org_id, id);
CREATE INDEX domains_brand ON domains (brand_id, id);

-- Domains created before brands were stored name a brand id that has no
-- row: give each such id a brand, named after its domain, in that
-- domain's org. An id shared by domains of several orgs (set by PUT
-- /api/v1/domains/{id} before brands were checked) goes to the first org,
-- its name made unique with the id.
INSERT INTO brands (id, org_id, name, locale, custom_privacy_policy_url, agree_to_custom_privacy_policy,
	remove_powered_by_okta, default_app_instance_id, default_app_link_name, default_app_classic_uri,
	email_domain_id, created, updated)
SELECT brand_id, MIN(org_id),
	CASE WHEN COUNT(DISTINCT org_id) = 1 THEN MIN(name) ELSE MIN(name) || ' (' || brand_id || ')' END,
	'', '', 0, 0, '', '', '', '', MIN(created), MIN(created)
FROM domains WHERE brand_id <> '' GROUP BY brand_id;
