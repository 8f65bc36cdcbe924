-- How the CA validated each certificate's name (http-01, tls-alpn-01,
-- dns-persist-01; '' for none: the built-in CA, uploads) and why that
-- challenge was chosen: the domain shows both.
ALTER TABLE certificates ADD COLUMN challenge TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN challenge_reason TEXT NOT NULL DEFAULT '';
