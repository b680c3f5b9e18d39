-- What each declaration was assessed with when it was decided: the valuation figures, every rule
-- that matched and the model's probability (JSON; '' for declarations stored before this version).
ALTER TABLE declarations ADD COLUMN assessment TEXT NOT NULL DEFAULT '';

-- Most decisions are green (released): they should not write into the indexes officers sort the
-- queue by. The score indexes cover only pending consignments; (lane, status) keeps inserts in a
-- few hot pages and answers per-office counts from the index alone.
DROP INDEX consignments_status_score;
DROP INDEX consignments_lane_status_score;
CREATE INDEX consignments_pending_score ON consignments (score) WHERE status = 'pending';
CREATE INDEX consignments_pending_lane_score ON consignments (lane, score) WHERE status = 'pending';
CREATE INDEX consignments_lane_status ON consignments (lane, status);
