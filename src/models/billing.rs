//! A student's billing details, remembered for their next invoice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::UserId;
use super::user::User;
use crate::db::DbConnection;
use crate::db::schema::{billing_details, users};

/// Company, address and tax id to put on invoices; each optional.
#[derive(Queryable, Selectable, Clone, Debug, Default, PartialEq, Eq)]
#[diesel(table_name = billing_details)]
pub struct Billing {
    pub company: Option<String>,
    pub address: Option<String>,
    pub tax_id: Option<String>,
}

impl Billing {
    pub fn for_user(conn: &mut DbConnection, user: UserId) -> QueryResult<Self> {
        Ok(billing_details::table
            .find(user)
            .select(Self::as_select())
            .first(conn)
            .optional()?
            .unwrap_or_default())
    }

    /// The user and their details, in one query (a session's user: the
    /// cart page shows the details).
    pub fn with_user(conn: &mut DbConnection, user: UserId) -> QueryResult<Option<(User, Self)>> {
        let found: Option<(User, Option<Self>)> = users::table
            .left_join(billing_details::table)
            .filter(users::id.eq(user))
            .select((User::as_select(), Option::<Self>::as_select()))
            .first(conn)
            .optional()?;
        Ok(found.map(|(user, billing)| (user, billing.unwrap_or_default())))
    }

    pub fn is_empty(&self) -> bool {
        self.company.is_none() && self.address.is_none() && self.tax_id.is_none()
    }

    /// Remembers these details (an empty set forgets them).
    pub fn save(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        crate::db::per_engine!(conn, c => diesel::insert_into(billing_details::table)
            .values((
                billing_details::user_id.eq(user),
                billing_details::company.eq(&self.company),
                billing_details::address.eq(&self.address),
                billing_details::tax_id.eq(&self.tax_id),
                billing_details::updated_at.eq(now),
            ))
            .on_conflict(billing_details::user_id)
            .do_update()
            .set((
                billing_details::company.eq(&self.company),
                billing_details::address.eq(&self.address),
                billing_details::tax_id.eq(&self.tax_id),
                billing_details::updated_at.eq(now),
            ))
            .execute(c))
        .map(drop)
    }
}
