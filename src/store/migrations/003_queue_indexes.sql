-- Fewer, better-fitting indexes on consignments: every decision writes this table, and the queue
-- is read by status (optionally lane) ordered by score. Sorting by update time scans.
DROP INDEX consignments_queue;
DROP INDEX consignments_lane_score;
DROP INDEX consignments_updated;
CREATE INDEX consignments_status_score ON consignments (status, score);
CREATE INDEX consignments_lane_status_score ON consignments (lane, status, score);
