use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::UserId;
use crate::db::DbConnection;
use crate::db::schema::users;
use crate::domain::{Locale, Role};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub role: Role,
    pub session_version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Their Customer at Stripe, made at their first Stripe checkout.
    pub stripe_customer_id: Option<String>,
    /// The language they chose; none: their browser's.
    pub locale: Option<Locale>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The language they signed up in: mail speaks it.
    pub locale: Option<Locale>,
}

impl User {
    pub fn is_staff(&self) -> bool {
        self.role == Role::Staff
    }

    pub fn find(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<Self>> {
        users::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// `email` must already be normalised (see [`crate::domain::Email`]).
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Self>> {
        users::table
            .filter(users::email.eq(email))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Ends every session issued so far for this user.
    pub fn bump_session_version(
        conn: &mut DbConnection,
        id: UserId,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::session_version.eq(users::session_version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Stores the Customer id unless one is stored (compare and set), and
    /// returns the one that is stored now.
    pub fn set_stripe_customer(
        conn: &mut DbConnection,
        id: UserId,
        customer: &str,
    ) -> QueryResult<Option<String>> {
        diesel::update(
            users::table
                .find(id)
                .filter(users::stripe_customer_id.is_null()),
        )
        .set(users::stripe_customer_id.eq(customer))
        .execute(conn)?;
        users::table
            .find(id)
            .select(users::stripe_customer_id)
            .first(conn)
    }

    /// Forgets a Customer the provider no longer knows (another mode's).
    pub fn forget_stripe_customer(
        conn: &mut DbConnection,
        id: UserId,
        customer: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            users::table
                .find(id)
                .filter(users::stripe_customer_id.eq(customer)),
        )
        .set(users::stripe_customer_id.eq(None::<String>))
        .execute(conn)
    }

    /// Keeps `locale` as the user's language unless they have one.
    pub fn adopt_locale(conn: &mut DbConnection, id: UserId, locale: Locale) -> QueryResult<usize> {
        diesel::update(users::table.find(id).filter(users::locale.is_null()))
            .set(users::locale.eq(locale))
            .execute(conn)
    }

    pub fn set_locale(conn: &mut DbConnection, id: UserId, locale: Locale) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set(users::locale.eq(locale))
            .execute(conn)
    }

    /// A new password; every session issued so far ends.
    pub fn set_password(
        conn: &mut DbConnection,
        id: UserId,
        password_hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::session_version.eq(users::session_version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// The staff, for mail that concerns them.
    pub fn staff(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        users::table
            .filter(users::role.eq(Role::Staff))
            .order(users::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    pub fn set_role_and_password(
        conn: &mut DbConnection,
        id: UserId,
        role: Role,
        password_hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::role.eq(role),
                users::password_hash.eq(password_hash),
                users::session_version.eq(users::session_version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    }
}

impl NewUser<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<User> {
        diesel::insert_into(users::table)
            .values(self)
            // `as_returning()` does not compile through the multi-backend
            // connection; the column tuple does (field order = table order).
            .returning(users::all_columns)
            .get_result(conn)
    }
}
