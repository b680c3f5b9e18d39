-- A cursor over decision changes for integrators who poll for responses (GET /api/responses):
-- each decision row carries the audit sequence number of the decision entry that last changed it.
-- Audit entries are appended one at a time in commit order (the hash chain needs its head), so a
-- reader that asks for change_seq > N never misses a change committed later with a lower number.
ALTER TABLE consignments ADD COLUMN change_seq BIGINT;
UPDATE consignments SET change_seq = a.last_seq
  FROM (SELECT subject, MAX(seq) AS last_seq FROM audit WHERE action = 'decision' GROUP BY subject) AS a
  WHERE a.subject = consignments.consignment_id;
CREATE INDEX consignments_change_seq ON consignments (change_seq);
