-- The case library (docs/training.md, "Case library"): a case is a consignment whose latest outcome
-- is an inspection result; its outcome, declarations, scans and photos stay where they are. Kept
-- here is only what trainers add: whether the case is teaching material, who marked it and when,
-- and free-text tags of three kinds (normalised to lower case by the store).
CREATE TABLE case_marks (
  consignment_id TEXT PRIMARY KEY,
  teaching INTEGER NOT NULL,            -- 1: teaching material
  marked_by TEXT NOT NULL,
  marked_ms BIGINT NOT NULL
);
CREATE INDEX case_marks_teaching ON case_marks (teaching);

CREATE TABLE case_tags (
  consignment_id TEXT NOT NULL,
  kind TEXT NOT NULL,                   -- goods, threat_class, concealment
  tag TEXT NOT NULL,
  PRIMARY KEY (consignment_id, kind, tag)
);
CREATE INDEX case_tags_tag ON case_tags (tag, kind);
