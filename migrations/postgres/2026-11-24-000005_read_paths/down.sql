DROP INDEX order_items_order_share;
DROP INDEX financial_journals_money;
DROP INDEX courses_published_launch;
