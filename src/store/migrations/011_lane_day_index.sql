-- The selection budget of a lane-day is counted from the decisions of every process that shares
-- the database (workers, several services), once per decision: by lane and decision date.
CREATE INDEX consignments_lane_date ON consignments (lane, decision_date);
