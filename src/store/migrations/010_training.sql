-- Screener training (docs/training.md): sessions a trainer builds, their assignment to trainees,
-- and one row per image a trainee screens, with the projected threat's truth and the response.
-- Training images are stored as scans (consignment_id 'training:<session>') with no decision, so
-- they never reach the queue. Ids are assigned by the store (the writer is single).
CREATE TABLE training_sessions (
  session_id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  trainer TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  settings TEXT NOT NULL               -- JSON: TrainingSettings (clearsight/training.h)
);

CREATE TABLE training_assignments (
  session_id BIGINT NOT NULL,
  trainee TEXT NOT NULL,
  assigned_by TEXT NOT NULL,
  assigned_ms BIGINT NOT NULL,
  PRIMARY KEY (session_id, trainee)
);
CREATE INDEX training_assignments_trainee ON training_assignments (trainee);

CREATE TABLE training_trials (
  trial_id BIGINT PRIMARY KEY,
  session_id BIGINT NOT NULL,
  trainee TEXT NOT NULL,
  idx INTEGER NOT NULL,                -- 0, 1, ... within the trainee's run of the session
  scan_id TEXT NOT NULL,
  source TEXT NOT NULL,                -- 'simulated:<seed>:<index>' or 'scan:<scan id>'
  threat INTEGER NOT NULL,             -- 1 when a threat was projected
  threat_class TEXT NOT NULL,          -- '' without a threat
  threat_name TEXT NOT NULL,
  box_x0 INTEGER NOT NULL, box_y0 INTEGER NOT NULL,  -- [x0,x1) x [y0,y1); 0 without a threat
  box_x1 INTEGER NOT NULL, box_y1 INTEGER NOT NULL,
  mask_rle TEXT NOT NULL,              -- JSON array [start, length, ...] over the scan's pixels
  size_scale DOUBLE PRECISION NOT NULL,
  clutter DOUBLE PRECISION NOT NULL,
  level INTEGER NOT NULL,              -- the staircase level the image was made at
  time_limit_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  responded_ms BIGINT,                 -- NULL until the trainee answers
  decision TEXT,                       -- 'clear' or 'suspect'
  mark TEXT,                           -- JSON {"x","y"} or {"x0","y0","x1","y1"}; '' none
  response_ms BIGINT,
  timed_out INTEGER,
  hit INTEGER,                         -- threat AND suspect AND the mark on the threat's box
  UNIQUE (session_id, trainee, idx)
);
CREATE INDEX training_trials_trainee ON training_trials (trainee, trial_id);
