-- The shape of a vote: insert a ballot under a unique key and increment the hot counter, in one
-- transaction (one commit, one WAL flush), as polls.services.ballot_cast does.
BEGIN;
INSERT INTO bench_ballot (counter_id, voter_hash) VALUES (1, md5(random()::text || clock_timestamp()::text));
UPDATE bench_counter SET votes = votes + 1 WHERE id = 1;
COMMIT;
