DROP TABLE seller_settings;
