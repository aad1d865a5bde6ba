-- Indexes for the read paths the benchmark measured (bench/results.md).

-- The catalog's pages walk published courses in launch order: without this
-- every page view sorted the whole table.
CREATE INDEX courses_published_launch ON courses (published, created_at, id);

-- The revenue recap reads these columns of money-moving rows only; the
-- rows themselves carry ~1 KiB of provider JSON each, which a covering
-- index spares it from reading.
CREATE INDEX financial_journals_money
    ON financial_journals (type, created_at, status, reference_id, amount_cents);

-- The per-course recap: an order's lines without their rows.
CREATE INDEX order_items_order_share ON order_items (order_id, title, total_cents);
