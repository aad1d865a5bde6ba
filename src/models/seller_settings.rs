//! The seller's details as staff set them on the settings page: each field
//! set here wins over the configuration; an unset one falls back to it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::UserId;
use crate::db::DbConnection;
use crate::db::schema::seller_settings;

/// The one row's fields; `None` is "as configured".
#[derive(Queryable, Selectable, Clone, Debug, Default, PartialEq, Eq)]
#[diesel(table_name = seller_settings)]
pub struct SellerSettings {
    pub name: Option<String>,
    /// Lines separated by `\n`.
    pub address: Option<String>,
    pub tax_id: Option<String>,
    pub footer: Option<String>,
}

/// Who changed them last, and when.
#[derive(Queryable, Clone, Debug)]
pub struct LastChange {
    pub at: NaiveDateTime,
    pub by: Option<String>,
}

impl SellerSettings {
    /// What staff set; all `None` when they never did.
    pub fn load(conn: &mut DbConnection) -> QueryResult<Self> {
        Ok(seller_settings::table
            .find(1)
            .select(Self::as_select())
            .first(conn)
            .optional()?
            .unwrap_or_default())
    }

    pub fn last_change(conn: &mut DbConnection) -> QueryResult<Option<LastChange>> {
        use crate::db::schema::users;
        seller_settings::table
            .left_join(users::table)
            .filter(seller_settings::id.eq(1))
            .select((seller_settings::updated_at, users::email.nullable()))
            .first(conn)
            .optional()
    }

    pub fn save(&self, conn: &mut DbConnection, by: UserId, now: NaiveDateTime) -> QueryResult<()> {
        let fields = (
            seller_settings::name.eq(&self.name),
            seller_settings::address.eq(&self.address),
            seller_settings::tax_id.eq(&self.tax_id),
            seller_settings::footer.eq(&self.footer),
            seller_settings::updated_at.eq(now),
            seller_settings::updated_by.eq(by),
        );
        crate::db::per_engine!(conn, c => diesel::insert_into(seller_settings::table)
            .values((seller_settings::id.eq(1), fields))
            .on_conflict(seller_settings::id)
            .do_update()
            .set(fields)
            .execute(c))
        .map(drop)
    }
}
