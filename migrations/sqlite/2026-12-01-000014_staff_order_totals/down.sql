DROP INDEX orders_status_created;
CREATE INDEX orders_status_created ON orders (status, created_at);
