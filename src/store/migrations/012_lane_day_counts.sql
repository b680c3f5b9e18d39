-- Decisions per lane and decision date by channel and draw, kept with every decision
-- (StoreTxn::PutDecision): the selection budget of a lane-day is read from here by every process
-- that decides on a shared database (workers, several services), in three rows by key instead of
-- counting the lane's consignments at each decision.
CREATE TABLE lane_day_counts (
  lane TEXT NOT NULL,
  decision_date INTEGER NOT NULL,
  seen BIGINT NOT NULL,
  red BIGINT NOT NULL,
  yellow BIGINT NOT NULL,
  control BIGINT NOT NULL,
  exploration BIGINT NOT NULL,
  PRIMARY KEY (lane, decision_date)
);
INSERT INTO lane_day_counts (lane, decision_date, seen, red, yellow, control, exploration)
SELECT lane, decision_date, COUNT(*), SUM(CASE WHEN channel = 'red' THEN 1 ELSE 0 END),
       SUM(CASE WHEN channel = 'yellow' THEN 1 ELSE 0 END), SUM(control), SUM(exploration)
FROM consignments GROUP BY lane, decision_date;
