//! Mail waiting to be sent: queued in the transaction of what caused it,
//! sent after commit.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types as sql;

use super::{OrderId, UserId};
use crate::db::schema::mail_outbox;
use crate::db::{DbConnection, kept_statement};
use crate::domain::MailKind;

kept_statement! {
    /// [`QueuedMail::mark_sent`]'s statement.
    struct MarkSent {
        "UPDATE mail_outbox SET sent_at = " {now: sql::Timestamp = NaiveDateTime}
        ", attempts = attempts + 1, claimed_until = NULL, last_error = NULL, \
         text_body = NULL, html_body = NULL WHERE id = " {id: sql::BigInt = i64}
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = mail_outbox)]
pub struct QueuedMail {
    pub id: i64,
    pub kind: MailKind,
    pub recipient: String,
    pub user_id: Option<UserId>,
    pub order_id: Option<OrderId>,
    /// JSON: what the mail is about beyond the order.
    pub details: String,
    /// Set when the mail was rendered as it was queued (a reset link).
    pub subject: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub message_id: String,
    pub created_at: NaiveDateTime,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = mail_outbox)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewMail<'a> {
    pub kind: MailKind,
    pub recipient: &'a str,
    pub user_id: Option<UserId>,
    pub order_id: Option<OrderId>,
    pub details: &'a str,
    pub subject: Option<&'a str>,
    pub text_body: Option<&'a str>,
    pub html_body: Option<&'a str>,
    pub message_id: &'a str,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
}

impl NewMail<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(mail_outbox::table)
            .values(self)
            .execute(conn)
            .map(drop)
    }
}

impl QueuedMail {
    super::outbox::outbox_rows!(mail_outbox);

    /// Leases up to `limit` due mails to this worker until `lease_until`,
    /// oldest first. Run it in a write transaction: on PostgreSQL the
    /// candidates are locked `SKIP LOCKED`, so two instances never take the
    /// same mail; SQLite has one writer.
    pub fn lease_due(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let due = mail_outbox::table
            .filter(mail_outbox::sent_at.is_null())
            .filter(mail_outbox::next_attempt_at.le(now))
            .filter(
                mail_outbox::claimed_until
                    .is_null()
                    .or(mail_outbox::claimed_until.lt(now)),
            )
            .order(mail_outbox::id.asc())
            .limit(limit)
            .select(mail_outbox::id);
        let ids = crate::db::lock_rows_skip_locked!(conn, due)?;
        Self::lease(conn, ids, lease_until)
    }

    /// Mail not sent yet (due or retrying later): the outbox's backlog.
    pub fn waiting(conn: &mut DbConnection) -> QueryResult<i64> {
        mail_outbox::table
            .filter(mail_outbox::sent_at.is_null())
            .count()
            .get_result(conn)
    }

    /// Sent: the bodies go (a reset link must not outlive its mail in the
    /// database).
    pub fn mark_sent(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
        MarkSent { now, id }.execute(conn).map(drop)
    }
}
