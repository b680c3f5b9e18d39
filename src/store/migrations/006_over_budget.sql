-- Decisions whose score (or a finding) asked for more than the lane-day's budget had left: carried
-- over to the next day's budget or waiting on the supervisor's list (docs/api.md, Selection).
ALTER TABLE consignments ADD COLUMN over_budget INTEGER NOT NULL DEFAULT 0;
CREATE INDEX consignments_over_budget ON consignments (over_budget) WHERE over_budget = 1;
