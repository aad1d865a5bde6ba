COMMENT ON INDEX orders_status_created IS NULL;
