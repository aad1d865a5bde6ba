//! Queuing mail inside the transaction that causes it.

use chrono::NaiveDateTime;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::render::Rendered;
use crate::db::DbConnection;
use crate::domain::{DisputeStatus, MailKind};
use crate::models::UserId;
use crate::models::mail_outbox::NewMail;
use crate::models::order::Order;
use crate::models::user::User;

/// What a refund or dispute notice says beyond its order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Minor units: what went back, or what is disputed.
    #[serde(default)]
    pub amount: i64,
    /// The refund brought the order to zero.
    #[serde(default)]
    pub full: bool,
    #[serde(default)]
    pub dispute_status: Option<DisputeStatus>,
}

/// The random left part of a mail's `Message-ID` (the right part is the
/// sender's domain, added when sent): the same on every retry, so a
/// receiver drops a repeat.
fn message_key() -> String {
    let mut random = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut random);
    hex::encode(random)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one outbox row's fields, named at each call"
)]
fn queue(
    conn: &mut DbConnection,
    kind: MailKind,
    recipient: &str,
    user: Option<UserId>,
    order: Option<&Order>,
    details: &Details,
    rendered: Option<&Rendered>,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let details = serde_json::to_string(details).expect("plain fields serialize");
    NewMail {
        kind,
        recipient,
        user_id: user,
        order_id: order.map(|o| o.id),
        details: &details,
        subject: rendered.map(|r| r.subject.as_str()),
        text_body: rendered.map(|r| r.text.as_str()),
        html_body: rendered.map(|r| r.html.as_str()),
        message_id: &message_key(),
        created_at: now,
        next_attempt_at: now,
    }
    .insert(conn)
}

fn student(conn: &mut DbConnection, order: &Order) -> diesel::QueryResult<User> {
    User::find(conn, order.user_id)?.ok_or(diesel::result::Error::NotFound)
}

/// The receipt of a paid order, to its student.
pub fn receipt(
    conn: &mut DbConnection,
    user: &User,
    order: &Order,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    queue(
        conn,
        MailKind::Receipt,
        &user.email,
        Some(user.id),
        Some(order),
        &Details::default(),
        None,
        now,
    )
}

/// Money went back to the student: `amount` now, the order fully refunded
/// or not.
pub fn refund_notice(
    conn: &mut DbConnection,
    order: &Order,
    amount: i64,
    full: bool,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let user = student(conn, order)?;
    let details = Details {
        amount,
        full,
        dispute_status: None,
    };
    queue(
        conn,
        MailKind::RefundNotice,
        &user.email,
        Some(user.id),
        Some(order),
        &details,
        None,
        now,
    )
}

/// A dispute opened: every staff member hears of it.
pub fn dispute_notice(
    conn: &mut DbConnection,
    order: &Order,
    amount: i64,
    status: DisputeStatus,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let details = Details {
        amount,
        full: false,
        dispute_status: Some(status),
    };
    for staff in User::staff(conn)? {
        queue(
            conn,
            MailKind::DisputeNotice,
            &staff.email,
            Some(staff.id),
            Some(order),
            &details,
            None,
            now,
        )?;
    }
    Ok(())
}

/// A mail rendered when asked for (a reset link: its token is stored only
/// hashed, so the mail cannot be made again later).
pub fn rendered(
    conn: &mut DbConnection,
    kind: MailKind,
    user: &User,
    mail: &Rendered,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    queue(
        conn,
        kind,
        &user.email,
        Some(user.id),
        None,
        &Details::default(),
        Some(mail),
        now,
    )
}
