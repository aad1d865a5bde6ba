-- SQLite's index gains the totals' columns here (see its migration). On
-- PostgreSQL the same index with INCLUDE (total_cents, refunded_cents)
-- made the page a quarter faster without a student filter and half as
-- fast with one (the planner chose another way to the page's rows;
-- bench/results.md, eleventh round). The index stays as it is; this says
-- why, where the next person looks.
COMMENT ON INDEX orders_status_created IS
  'The staff invoice history (status, dates). Not covering on purpose: see migration 2026-12-01-000014.';
