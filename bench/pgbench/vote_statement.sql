-- vote_notify.sql as the app sends it: one statement (a CTE), committed on its own, with the
-- NOTIFY the trigger sends. No BEGIN/COMMIT round trips.
WITH ballot AS (
    INSERT INTO bench_ballot (counter_id, voter_hash)
    VALUES (1, md5(random()::text || clock_timestamp()::text)) RETURNING counter_id
), counted AS (
    UPDATE bench_counter SET votes = votes + 1 WHERE id = 1 RETURNING votes
)
SELECT pg_notify('bench_vote', votes::text) FROM counted;
