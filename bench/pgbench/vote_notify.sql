-- vote_transaction.sql plus the NOTIFY every vote sends (migration 0009: the choice's new count
-- for each worker's poll cache). PostgreSQL takes one database-wide lock from a notifying
-- transaction's queue write to its commit, so that notifications arrive in commit order.
BEGIN;
INSERT INTO bench_ballot (counter_id, voter_hash) VALUES (1, md5(random()::text || clock_timestamp()::text));
UPDATE bench_counter SET votes = votes + 1 WHERE id = 1;
SELECT pg_notify('bench_vote', '1');
COMMIT;
