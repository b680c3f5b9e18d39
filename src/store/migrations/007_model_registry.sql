-- The model registry: every risk model version with where its files are (content-addressed in the
-- image directory, like scans), its metrics, training data, features and lineage, and who made it
-- live when. At most one version is live (the partial unique index).
CREATE TABLE model_versions (
  version BIGINT PRIMARY KEY,
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  content_sha256 TEXT NOT NULL UNIQUE,  -- sha256 of the sorted "<file sha256>  <path>" lines
  files TEXT NOT NULL,                  -- JSON [{"path", "sha256", "bytes"}]: the image directory's blobs
  metrics TEXT NOT NULL,                -- JSON object, '{}' when none was given
  training_from INTEGER,                -- first and last day of the training data; NULL when unknown
  training_cutoff INTEGER,
  training_rows BIGINT,
  features TEXT NOT NULL,               -- JSON array of feature names
  parent_version BIGINT,                -- the version it was retrained from
  status TEXT NOT NULL,                 -- candidate, live, retired, rejected
  reason TEXT NOT NULL,                 -- why it has its status ('' when nobody said)
  promoted_by TEXT NOT NULL,            -- who last made it live ('' when never live)
  promoted_ms BIGINT,
  previous_live BIGINT                  -- the version live before it last went live: a rollback's target
);
CREATE UNIQUE INDEX model_versions_one_live ON model_versions (status) WHERE status = 'live';

-- The registry version of the model that assessed the declaration a decision was made on; NULL for
-- decisions without a model (and for those made before the registry existed).
ALTER TABLE consignments ADD COLUMN model_version BIGINT;
