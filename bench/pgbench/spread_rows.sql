-- The same increment spread over four rows (four choices), for comparison with hot_row.sql.
\set id random(1, 4)
UPDATE bench_counter SET votes = votes + 1 WHERE id = :id;
