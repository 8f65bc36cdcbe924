-- Per-key request counts of one-minute windows, added to by every node, so
-- that a token's rate limit holds across the cluster.
CREATE TABLE rate_counts (
	win BIGINT NOT NULL, -- unix minutes
	key TEXT NOT NULL,    -- scope:key (a token id, a client address)
	n   BIGINT NOT NULL,
	PRIMARY KEY (win, key)
);
