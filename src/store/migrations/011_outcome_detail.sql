-- Outcome detail (docs/api.md, Outcomes): an outcome may say the consignment was not inspected,
-- and why; what was seized (a quantity and its unit) and the revenue recovered, for any finding;
-- photos of the find, their bytes content-addressed in the image directory like scans. And rule
-- profile history: the version whose text a rollback restored.
ALTER TABLE outcomes ADD COLUMN not_inspected_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE outcomes ADD COLUMN seized_quantity DOUBLE PRECISION;   -- NULL: nothing seized
ALTER TABLE outcomes ADD COLUMN seized_unit TEXT NOT NULL DEFAULT '';
ALTER TABLE outcomes ADD COLUMN revenue_recovered DOUBLE PRECISION; -- NULL: none given
ALTER TABLE outcomes ADD COLUMN revenue_currency TEXT NOT NULL DEFAULT '';

CREATE TABLE outcome_attachments (
  consignment_id TEXT NOT NULL,
  outcome_seq BIGINT NOT NULL,        -- outcomes.seq of the consignment
  sha256 TEXT NOT NULL,               -- the bytes in the image directory
  content_type TEXT NOT NULL,         -- image/jpeg, image/png: from the bytes' magic
  bytes BIGINT NOT NULL,
  name TEXT NOT NULL,                 -- the uploader's file name, '' when none
  uploaded_by TEXT NOT NULL,
  uploaded_ms BIGINT NOT NULL,
  PRIMARY KEY (consignment_id, outcome_seq, sha256)
);

ALTER TABLE rules_versions ADD COLUMN restored_from BIGINT;  -- NULL: not a rollback
