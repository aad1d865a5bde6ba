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
    /// A file name under the uploads directory, or none: the catalog then
    /// shows the title's initial.
    pub cover_image: Option<String>,
    /// The course's page in the learning platform ("Start course").
    pub lms_url: Option<String>,
}

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = courses)]
#[diesel(treat_none_as_default_value = false)]
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
    pub cover_image: Option<&'a str>,
    pub lms_url: Option<&'a str>,
}

/// What staff may change on a course.
#[derive(AsChangeset, Clone, Debug)]
#[diesel(table_name = courses, treat_none_as_null = true)]
pub struct CourseFields<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    pub price_cents: i64,
    pub published: bool,
    pub cover_image: Option<&'a str>,
    pub lms_url: Option<&'a str>,
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

    /// Every course, published or not, newest first, with how many paid
    /// orders (paid or partly refunded) sold it.
    pub fn all_with_sales(conn: &mut DbConnection) -> QueryResult<Vec<(Self, i64)>> {
        use crate::db::schema::{order_items, orders};
        use crate::domain::OrderStatus;
        let all: Vec<Self> = courses::table
            .order((courses::created_at.desc(), courses::id.desc()))
            .select(Self::as_select())
            .load(conn)?;
        let sales: std::collections::HashMap<CourseId, i64> = order_items::table
            .inner_join(orders::table)
            .filter(orders::status.eq_any([OrderStatus::Paid, OrderStatus::PartiallyRefunded]))
            .group_by(order_items::course_id)
            .select((order_items::course_id, diesel::dsl::count_star()))
            .load::<(CourseId, i64)>(conn)?
            .into_iter()
            .collect();
        Ok(all
            .into_iter()
            .map(|course| {
                let sold = sales.get(&course.id).copied().unwrap_or(0);
                (course, sold)
            })
            .collect())
    }

    /// The course with this slug, published or not.
    pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Self>> {
        courses::table
            .filter(courses::slug.eq(slug))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn update(
        conn: &mut DbConnection,
        id: CourseId,
        fields: &CourseFields<'_>,
    ) -> QueryResult<Self> {
        diesel::update(courses::table.find(id))
            .set(fields)
            .returning(courses::all_columns)
            .get_result(conn)
    }
}

impl NewCourse<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<Course> {
        diesel::insert_into(courses::table)
            .values(self)
            .returning(courses::all_columns)
            .get_result(conn)
    }

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
