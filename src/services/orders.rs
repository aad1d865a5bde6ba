//! An order as its pages show it: the snapshot lines and totals, as money.

use crate::db::DbConnection;
use crate::domain::Money;
use crate::models::UserId;
use crate::models::order::Order;

#[derive(Clone, Debug)]
pub struct OrderView {
    pub order: Order,
    pub lines: Vec<OrderLineView>,
    pub subtotal: Money,
    /// Negative: what the promo took off.
    pub discount: Option<Money>,
    pub total: Money,
    /// The sales tax in the total, when the order was taxed.
    pub tax: Option<Money>,
    /// Its name as the order kept it (`PPN`).
    pub tax_name: Option<String>,
    /// The tax was added on top of the prices (else they included it).
    pub tax_added: bool,
}

#[derive(Clone, Debug)]
pub struct OrderLineView {
    pub title: String,
    pub unit_price: Money,
    /// Negative.
    pub discount: Option<Money>,
    pub total: Money,
    /// The tax in `total`.
    pub tax: Money,
}

impl OrderView {
    pub fn load(conn: &mut DbConnection, order: Order) -> diesel::QueryResult<Self> {
        let items = order.items(conn)?;
        let money = |minor: i64| Money::new(minor, order.currency);
        Ok(Self {
            lines: items
                .iter()
                .map(|item| OrderLineView {
                    title: item.title.clone(),
                    unit_price: money(item.unit_price_cents),
                    discount: (item.discount_cents > 0).then(|| money(-item.discount_cents)),
                    total: money(item.total_cents),
                    tax: money(item.tax_cents),
                })
                .collect(),
            subtotal: money(order.subtotal_cents),
            discount: (order.discount_cents > 0).then(|| money(-order.discount_cents)),
            total: money(order.total_cents),
            tax: (order.tax_cents > 0).then(|| money(order.tax_cents)),
            tax_name: crate::config::Seller::from_snapshot(order.seller_details.as_deref())
                .and_then(|s| s.tax)
                .map(|t| t.name),
            tax_added: !order.tax_inclusive,
            order,
        })
    }

    /// The tax's name as the order kept it, or `fallback`.
    pub fn tax_name_or(&self, fallback: String) -> String {
        self.tax_name.clone().unwrap_or(fallback)
    }

    /// What has been refunded, negative; `None` when nothing was.
    pub fn refunded(&self) -> Option<Money> {
        (self.order.refunded_cents > 0)
            .then(|| Money::new(-self.order.refunded_cents, self.order.currency))
    }

    /// What the order still holds after its refunds.
    pub fn remaining(&self) -> Money {
        Money::new(
            self.order.total_cents - self.order.refunded_cents,
            self.order.currency,
        )
    }

    /// The order of this user with this number; `None` for anyone else's.
    pub fn load_for_user(
        conn: &mut DbConnection,
        number: &str,
        user_id: UserId,
    ) -> diesel::QueryResult<Option<Self>> {
        match Order::find_by_number_for_user(conn, number, user_id)? {
            Some(order) => Self::load(conn, order).map(Some),
            None => Ok(None),
        }
    }
}
