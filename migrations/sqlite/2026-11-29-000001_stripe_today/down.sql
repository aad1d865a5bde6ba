DROP TABLE refunds;
ALTER TABLE orders DROP COLUMN refunds_as_of;
ALTER TABLE orders DROP COLUMN dispute_status;
ALTER TABLE orders DROP COLUMN dispute_id;
ALTER TABLE orders DROP COLUMN charge_id;
ALTER TABLE webhook_events DROP COLUMN api_version;
DROP INDEX users_stripe_customer;
ALTER TABLE users DROP COLUMN stripe_customer_id;
DROP TABLE installation;
