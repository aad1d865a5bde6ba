use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CourseId;
use crate::db::DbConnection;
use crate::db::schema::courses;
use crate::domain::Currency;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = courses)]
pub struct Course {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: Currency,
    pub published: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = courses)]
pub struct NewCourse<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    pub price_cents: i64,
    pub currency: Currency,
    pub published: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Course {
    /// One page of the catalog, in launch order.
    pub fn list_published(
        conn: &mut DbConnection,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        courses::table
            .filter(courses::published.eq(true))
            .order((courses::created_at.asc(), courses::id.asc()))
            .offset(offset)
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    /// Every published course (the staff promo-code form ticks from these).
    pub fn all_published(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        Self::list_published(conn, 0, i64::MAX)
    }

    pub fn count_published(conn: &mut DbConnection) -> QueryResult<i64> {
        courses::table
            .filter(courses::published.eq(true))
            .count()
            .get_result(conn)
    }

    pub fn find_published_by_slug(
        conn: &mut DbConnection,
        slug: &str,
    ) -> QueryResult<Option<Self>> {
        courses::table
            .filter(courses::slug.eq(slug))
            .filter(courses::published.eq(true))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut DbConnection, id: CourseId) -> QueryResult<Option<Self>> {
        courses::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Slugs of published courses priced in another currency than `shop`.
    pub fn priced_in_other_currencies(
        conn: &mut DbConnection,
        shop: Currency,
    ) -> QueryResult<Vec<String>> {
        courses::table
            .filter(courses::published.eq(true))
            .filter(courses::currency.ne(shop))
            .order(courses::id.asc())
            .select(courses::slug)
            .load(conn)
    }

    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        courses::table.count().get_result(conn)
    }
}

impl NewCourse<'_> {
    /// Inserts unless a course with this slug exists; returns whether it
    /// inserted. The unique slug decides, so concurrent seeders cannot clash.
    pub fn insert_if_new(&self, conn: &mut DbConnection) -> QueryResult<bool> {
        let inserted = crate::db::per_engine!(conn, c => diesel::insert_into(courses::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(inserted == 1)
    }
}
