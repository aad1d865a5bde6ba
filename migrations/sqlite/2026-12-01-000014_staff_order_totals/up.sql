DROP INDEX orders_status_created;
-- The invoice history's totals (count and sums of a status over a date
-- range) read from the index alone, not from every row of the set
-- (bench/results.md, eleventh round). `id` stays right after `created_at`:
-- the page's order (newest first, then by id) is still the index's own.
CREATE INDEX orders_status_created ON orders (status, created_at, id, total_cents, refunded_cents);
