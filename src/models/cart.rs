use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::{CartId, CourseId, UserId};
use crate::db::DbConnection;
use crate::db::schema::{cart_items, carts, courses};
use crate::domain::Currency;
use crate::models::course::Course;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = carts)]
pub struct Cart {
    pub id: CartId,
    pub user_id: Option<UserId>,
    pub token: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = carts)]
#[diesel(treat_none_as_default_value = false)]
struct NewCart<'a> {
    user_id: Option<UserId>,
    token: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Whose cart: a user's, or a guest's by token. Given to the item queries,
/// which find the cart in the same query (`cart_id IN (SELECT id FROM carts
/// WHERE …)`) instead of looking it up first.
#[derive(Clone, Copy, Debug)]
pub enum CartOf<'a> {
    User(UserId),
    Guest(&'a str),
}

impl CartOf<'_> {
    fn user(self) -> Option<UserId> {
        match self {
            Self::User(id) => Some(id),
            Self::Guest(_) => None,
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::User(_) => None,
            Self::Guest(token) => Some(token),
        }
    }
}

/// The cart's id as a subquery: `user_id = ?` for a user, the token for a
/// guest (a guest cart has no user); the other side compares with NULL,
/// which matches nothing.
#[diesel::dsl::auto_type]
fn cart_id_of<'a>(user: Option<UserId>, token: Option<&'a str>) -> _ {
    carts::table
        .filter(
            carts::user_id.eq(user).or(carts::token
                .nullable()
                .eq(token)
                .and(carts::user_id.is_null())),
        )
        .select(carts::id)
}

impl Cart {
    pub fn find_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Option<Self>> {
        carts::table
            .filter(carts::user_id.eq(user_id))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// The user's cart, held until the transaction ends: checkouts of one
    /// cart, and fulfilments that empty it, take turns here.
    pub fn lock_for_user(conn: &mut DbConnection, user_id: UserId) -> QueryResult<Option<Self>> {
        let rows: Vec<Self> = crate::db::lock_rows!(
            conn,
            carts::table
                .filter(carts::user_id.eq(user_id))
                .select(Self::as_select())
        )?;
        Ok(rows.into_iter().next())
    }

    /// A guest cart: one that no user has claimed yet.
    pub fn find_guest(conn: &mut DbConnection, token: &str) -> QueryResult<Option<Self>> {
        carts::table
            .filter(carts::token.eq(token))
            .filter(carts::user_id.is_null())
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Creates the cart, or returns the one a concurrent request created
    /// first (the unique user id / token decides).
    pub fn find_or_create(
        conn: &mut DbConnection,
        user_id: Option<UserId>,
        token: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Self> {
        let existing = match user_id {
            Some(user_id) => Self::find_for_user(conn, user_id)?,
            None => Self::find_guest(conn, token)?,
        };
        if let Some(cart) = existing {
            return Ok(cart);
        }
        // ON CONFLICT: a caught unique violation would abort the rest of a
        // PostgreSQL transaction.
        let new = NewCart {
            user_id,
            token,
            created_at: now,
            updated_at: now,
        };
        crate::db::per_engine!(conn, c => diesel::insert_into(carts::table)
            .values(&new)
            .on_conflict_do_nothing()
            .execute(c))?;
        match user_id {
            Some(user_id) => Self::find_for_user(conn, user_id)?,
            None => Self::find_guest(conn, token)?,
        }
        .ok_or(DieselError::NotFound)
    }

    pub fn touch(conn: &mut DbConnection, id: CartId, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(carts::table.find(id))
            .set(carts::updated_at.eq(now))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: CartId) -> QueryResult<usize> {
        diesel::delete(carts::table.find(id)).execute(conn)
    }

    /// Removes guest carts untouched since `before` (their items go with them).
    pub fn prune_guest_carts(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        let stale = carts::table
            .filter(carts::user_id.is_null())
            .filter(carts::updated_at.lt(before))
            .select(carts::id);
        diesel::delete(cart_items::table.filter(cart_items::cart_id.eq_any(stale)))
            .execute(conn)?;
        diesel::delete(
            carts::table
                .filter(carts::user_id.is_null())
                .filter(carts::updated_at.lt(before)),
        )
        .execute(conn)
    }
}

pub struct CartItem;

/// What a cart line shows and prices of its course: not the description
/// (a page of text) nor the cover. Reading whole courses for the lines was
/// a fifth of the cart page's time under load.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = courses)]
pub struct LineCourse {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub price_cents: i64,
    pub currency: Currency,
    pub published: bool,
}

impl CartItem {
    /// Adds the course at the price it has now (the cart says when that
    /// changes); `Ok(false)` when it was already in the cart.
    pub fn add(
        conn: &mut DbConnection,
        cart_id: CartId,
        course_id: CourseId,
        price_cents: i64,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let inserted = crate::db::per_engine!(conn, c => diesel::insert_into(cart_items::table)
            .values((
                cart_items::cart_id.eq(cart_id),
                cart_items::course_id.eq(course_id),
                cart_items::added_at.eq(now),
                cart_items::added_price_cents.eq(price_cents),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(inserted == 1)
    }

    pub fn contains(
        conn: &mut DbConnection,
        cart_id: CartId,
        course_id: CourseId,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            cart_items::table
                .filter(cart_items::cart_id.eq(cart_id))
                .filter(cart_items::course_id.eq(course_id)),
        ))
        .get_result(conn)
    }

    pub fn remove(
        conn: &mut DbConnection,
        cart_id: CartId,
        course_id: CourseId,
    ) -> QueryResult<usize> {
        diesel::delete(
            cart_items::table
                .filter(cart_items::cart_id.eq(cart_id))
                .filter(cart_items::course_id.eq(course_id)),
        )
        .execute(conn)
    }

    /// Takes these courses out of the cart, in one statement.
    pub fn remove_courses(
        conn: &mut DbConnection,
        cart: CartOf<'_>,
        courses: &[CourseId],
    ) -> QueryResult<usize> {
        diesel::delete(
            cart_items::table
                .filter(cart_items::cart_id.eq_any(cart_id_of(cart.user(), cart.token())))
                .filter(cart_items::course_id.eq_any(courses)),
        )
        .execute(conn)
    }

    pub fn count(conn: &mut DbConnection, cart_id: CartId) -> QueryResult<i64> {
        cart_items::table
            .filter(cart_items::cart_id.eq(cart_id))
            .count()
            .get_result(conn)
    }

    pub fn course_ids(conn: &mut DbConnection, cart: CartOf<'_>) -> QueryResult<Vec<CourseId>> {
        cart_items::table
            .filter(cart_items::cart_id.eq_any(cart_id_of(cart.user(), cart.token())))
            .order(cart_items::added_at.asc())
            .select(cart_items::course_id)
            .load(conn)
    }

    /// The courses in the cart with the price each had when it was added
    /// (none for lines older than that record), in the order added.
    pub fn lines(
        conn: &mut DbConnection,
        cart: CartOf<'_>,
    ) -> QueryResult<Vec<(LineCourse, Option<i64>)>> {
        cart_items::table
            .inner_join(courses::table)
            .filter(cart_items::cart_id.eq_any(cart_id_of(cart.user(), cart.token())))
            .order((cart_items::added_at.asc(), cart_items::id.asc()))
            .select((LineCourse::as_select(), cart_items::added_price_cents))
            .load(conn)
    }

    /// The courses in the cart, in the order they were added, at their
    /// current (not snapshotted) prices.
    pub fn courses(conn: &mut DbConnection, cart_id: CartId) -> QueryResult<Vec<Course>> {
        cart_items::table
            .inner_join(courses::table)
            .filter(cart_items::cart_id.eq(cart_id))
            .order((cart_items::added_at.asc(), cart_items::id.asc()))
            .select(Course::as_select())
            .load(conn)
    }
}
