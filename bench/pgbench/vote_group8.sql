-- Group commit, measured: eight votes in one statement and one commit (one WAL flush, one NOTIFY
-- with the counter's new value), as one worker could batch the votes its threads take at once.
-- Compare 8 x its transactions/s with vote_notify.sql's.
WITH ballots AS (
    INSERT INTO bench_ballot (counter_id, voter_hash)
    SELECT 1, md5(random()::text || clock_timestamp()::text || i) FROM generate_series(1, 8) i
    RETURNING counter_id
), counted AS (
    UPDATE bench_counter SET votes = votes + (SELECT count(*) FROM ballots) WHERE id = 1
    RETURNING votes
)
SELECT pg_notify('bench_vote', votes::text) FROM counted;
