-- Tax added on top of prices (TAX_INCLUSIVE=false): such an order's total
-- is its subtotal, less the discount, plus the tax. Each order says which
-- it was sold under, and the total is checked against that.
ALTER TABLE orders ADD COLUMN tax_inclusive BOOLEAN NOT NULL DEFAULT TRUE;

-- The old rule (total = subtotal - discount) was an unnamed CHECK: find it
-- by what it says.
DO $$
DECLARE
    c TEXT;
    dropped INT := 0;
BEGIN
    FOR c IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'orders'::regclass AND contype = 'c'
          AND pg_get_constraintdef(oid) = 'CHECK ((total_cents = (subtotal_cents - discount_cents)))'
    LOOP
        EXECUTE format('ALTER TABLE orders DROP CONSTRAINT %I', c);
        dropped := dropped + 1;
    END LOOP;
    IF dropped = 0 THEN
        RAISE EXCEPTION 'orders: the CHECK total = subtotal - discount was not found';
    END IF;
END $$;

ALTER TABLE orders
    ADD CONSTRAINT orders_total_adds_up CHECK (
        total_cents = subtotal_cents - discount_cents
                      + CASE WHEN tax_inclusive THEN 0 ELSE tax_cents END),
    ADD CONSTRAINT orders_tax_within_total CHECK (tax_cents <= total_cents);
