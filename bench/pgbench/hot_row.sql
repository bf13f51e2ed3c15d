-- PostgreSQL's single-row update rate: every client increments the same counter (the hot row).
UPDATE bench_counter SET votes = votes + 1 WHERE id = 1;
