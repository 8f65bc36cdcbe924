-- The sqlite backend's migration 0011, for PostgreSQL: the built-in CA
-- shared by every node (one row, its keys sealed with the master key) and
-- the master key's check value, a known plaintext sealed at the database's
-- first start, so that a node holding another key is refused before it
-- seals anything.
CREATE TABLE builtin_ca (
	id               BIGINT PRIMARY KEY CHECK (id = 1),
	root_pem         BYTEA NOT NULL,
	intermediate_pem BYTEA NOT NULL,
	root_key         BYTEA NOT NULL, -- sealed, additional data "hallmark/ca/root.key.sealed"
	intermediate_key BYTEA NOT NULL, -- sealed, additional data "hallmark/ca/intermediate.key.sealed"
	created          BIGINT NOT NULL
);

CREATE TABLE master_key_check (
	id      BIGINT PRIMARY KEY CHECK (id = 1),
	value   BYTEA NOT NULL, -- sealed.Box.CheckValue
	created BIGINT NOT NULL
);
