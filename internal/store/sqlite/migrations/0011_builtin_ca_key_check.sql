-- Shared secrets in the database (issue 10): the built-in CA, one row, its
-- keys sealed with the master key as they were in the files under
-- DATA_DIR/ca (moved in at the next start); and the master key's check
-- value, a known plaintext sealed at the database's first start, so that a
-- node holding another key is refused before it seals anything.
CREATE TABLE builtin_ca (
	id               INTEGER PRIMARY KEY CHECK (id = 1),
	root_pem         BLOB NOT NULL,
	intermediate_pem BLOB NOT NULL,
	root_key         BLOB NOT NULL, -- sealed, additional data "hallmark/ca/root.key.sealed"
	intermediate_key BLOB NOT NULL, -- sealed, additional data "hallmark/ca/intermediate.key.sealed"
	created          INTEGER NOT NULL
);

CREATE TABLE master_key_check (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	value   BLOB NOT NULL, -- sealed.Box.CheckValue
	created INTEGER NOT NULL
);
