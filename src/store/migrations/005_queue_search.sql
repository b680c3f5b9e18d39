-- What an officer searches and sorts the queue by, kept with each declaration: the importer, the
-- HS code (searched by prefix), the declared value, and one lower-case text of the declaration
-- id, the trader ids and the description (searched for a substring). Rows stored before this
-- version get them when the store next opens (filled from the body; NULL until then).
ALTER TABLE declarations ADD COLUMN importer_id TEXT;
ALTER TABLE declarations ADD COLUMN hs_code TEXT;
ALTER TABLE declarations ADD COLUMN declared_value DOUBLE PRECISION;
ALTER TABLE declarations ADD COLUMN search_text TEXT;
CREATE INDEX declarations_importer ON declarations (importer_id);
CREATE INDEX declarations_hs ON declarations (hs_code);
