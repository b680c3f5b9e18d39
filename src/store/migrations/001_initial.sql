-- Clearsight schema, version 1. Portable SQL: SQLite and PostgreSQL run this same text.
-- Dates are days since 1970-01-01; times are milliseconds since the epoch; flags are 0/1.

CREATE TABLE declarations (
  declaration_id TEXT PRIMARY KEY,
  consignment_id TEXT NOT NULL,
  office_id TEXT NOT NULL,
  decl_date INTEGER NOT NULL,
  content_sha256 TEXT NOT NULL,     -- of the canonical JSON: the idempotency check
  body TEXT NOT NULL,               -- the declaration as native-schema JSON
  received_ms BIGINT NOT NULL
);
CREATE INDEX declarations_consignment ON declarations (consignment_id);

-- The current decision per consignment (every version is also in the audit log).
CREATE TABLE consignments (
  consignment_id TEXT PRIMARY KEY,
  lane TEXT NOT NULL,
  decision_date INTEGER NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  channel TEXT NOT NULL,
  control INTEGER NOT NULL,
  status TEXT NOT NULL,             -- pending, released, done
  version BIGINT NOT NULL,
  has_scan INTEGER NOT NULL,
  has_declaration INTEGER NOT NULL,
  reasons TEXT NOT NULL,            -- JSON array of fused reasons
  selection TEXT NOT NULL,          -- why this channel
  outcome TEXT NOT NULL,            -- latest outcome result, '' when none
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE INDEX consignments_queue ON consignments (status, channel, score);
CREATE INDEX consignments_lane_score ON consignments (lane, score);
CREATE INDEX consignments_updated ON consignments (updated_ms);

-- Evidence per consignment and origin ('declaration:<id>', 'scan:<id>'), JSON arrays of findings.
CREATE TABLE findings (
  consignment_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (consignment_id, origin)
);

CREATE TABLE rule_hits (
  consignment_id TEXT NOT NULL,
  rule_name TEXT NOT NULL,
  PRIMARY KEY (consignment_id, rule_name)
);
CREATE INDEX rule_hits_rule ON rule_hits (rule_name);

CREATE TABLE scans (
  scan_id TEXT PRIMARY KEY,
  consignment_id TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,       -- format-v1 TIFF in the image directory
  source_format TEXT NOT NULL,      -- tiff, dicos
  source_sha256 TEXT NOT NULL,      -- uploaded files, comma-separated
  meta TEXT NOT NULL,               -- sidecar JSON
  analysis TEXT NOT NULL,           -- ScanAnalysis JSON, '' when not analysed
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  received_ms BIGINT NOT NULL
);
CREATE INDEX scans_consignment ON scans (consignment_id);

CREATE TABLE outcomes (
  consignment_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  result TEXT NOT NULL,
  corrected_value DOUBLE PRECISION,
  notes TEXT NOT NULL,
  officer TEXT NOT NULL,
  recorded_ms BIGINT NOT NULL,
  PRIMARY KEY (consignment_id, seq)
);

CREATE TABLE users (
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,      -- Argon2id, libsodium crypto_pwhash_str format
  disabled INTEGER NOT NULL,
  created_ms BIGINT NOT NULL
);

CREATE TABLE sessions (
  token_sha256 TEXT PRIMARY KEY,    -- the token itself is never stored
  username TEXT NOT NULL,
  role TEXT NOT NULL,
  expires_ms BIGINT NOT NULL
);

-- Append-only, hash-chained: hash = sha256(prev_hash || canonical entry).
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY,
  at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);

CREATE TABLE rules_versions (
  version BIGINT PRIMARY KEY,
  body TEXT NOT NULL,
  author TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
