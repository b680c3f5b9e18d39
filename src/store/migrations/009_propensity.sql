-- What retraining needs to undo the selection of its labels (docs/model.md, "Retraining"): the
-- probability each decision had of being inspected (red) when it was made, and whether it was an
-- exploration draw (kept apart from the random control sample). NULL propensity: decided before it
-- was recorded; retraining then estimates it from the lane-day's control share.
ALTER TABLE consignments ADD COLUMN propensity DOUBLE PRECISION;
ALTER TABLE consignments ADD COLUMN exploration INTEGER NOT NULL DEFAULT 0;
