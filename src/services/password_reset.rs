//! Forgotten passwords: a single-use link that expires, mailed to the
//! account's address. The same answer whether or not an account exists;
//! requests are limited per address and per account; the token is stored
//! only as a SHA-256; using it ends every other session of the account.

use chrono::TimeDelta;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::accounts::{self, AccountError, SIGN_UP_WINDOW, hash_password};
use super::mail::{queue, render};
use crate::db::schema::password_resets;
use crate::db::{self, DbConnection};
use crate::domain::{Email, MailKind, NewPassword};
use crate::i18n::{I18n, Message};
use crate::models::login_attempt::LoginAttempt;
use crate::models::user::User;

/// How long a link works.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::minutes(60);
/// Reset requests one address may make per hour ...
const REQUESTS_PER_ADDRESS: i64 = 10;
/// ... and mails one account gets per hour, whoever asks.
const MAILS_PER_ACCOUNT: i64 = 3;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What the shop needs to write the mail.
pub struct ResetContext<'a> {
    /// The language of the page it was asked from (the account's own choice
    /// wins).
    pub i18n: I18n,
    pub public_url: &'a str,
    pub client_ip: &'a str,
}

/// Asks for a reset link for `email`. `Ok` whether or not there is such
/// an account (the page says the same either way); `Err` for a bad address
/// or too many requests from this address.
pub fn request(
    conn: &mut DbConnection,
    email: &str,
    context: &ResetContext<'_>,
) -> Result<(), AccountError> {
    let email = Email::parse(email).map_err(|m| AccountError::Invalid(vec![m]))?;
    let now = db::now();
    accounts::reserve_try(
        conn,
        &format!("reset-ip:{}", context.client_ip),
        REQUESTS_PER_ADDRESS,
        SIGN_UP_WINDOW,
        now,
    )?;
    let Some(user) = User::find_by_email(conn, email.as_str())? else {
        return Ok(());
    };
    // A flood of requests for one account is answered the same, but sends
    // nothing more.
    if accounts::reserve_try(
        conn,
        &format!("reset-account:{}", user.id),
        MAILS_PER_ACCOUNT,
        SIGN_UP_WINDOW,
        now,
    )
    .is_err()
    {
        return Ok(());
    }
    let token = crate::session::new_token();
    let i18n = user.locale.map_or(context.i18n, I18n::new);
    let reset_url = format!(
        "{}/password/reset/{token}",
        context.public_url.trim_end_matches('/')
    );
    let mail = render::password_reset(
        i18n,
        &render::ResetMail {
            name: &user.name,
            reset_url: &reset_url,
            minutes: LINK_LIFETIME.num_minutes(),
        },
    )
    .map_err(|e| AccountError::Mail(e.to_string()))?;
    db::write_transaction(conn, |conn| {
        diesel::insert_into(password_resets::table)
            .values((
                password_resets::user_id.eq(user.id),
                password_resets::token_hash.eq(hash(&token)),
                password_resets::created_at.eq(now),
                password_resets::expires_at.eq(now + LINK_LIFETIME),
            ))
            .execute(conn)?;
        queue::rendered(conn, MailKind::PasswordReset, &user, &mail, now)
    })?;
    Ok(())
}

/// The account a live token resets, if it is live.
pub fn account_of(conn: &mut DbConnection, token: &str) -> diesel::QueryResult<Option<User>> {
    let found: Option<crate::models::UserId> = password_resets::table
        .filter(password_resets::token_hash.eq(hash(token)))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(db::now()))
        .select(password_resets::user_id)
        .first(conn)
        .optional()?;
    match found {
        Some(id) => User::find(conn, id),
        None => Ok(None),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Unknown, used or expired.
    #[error("the link is not valid")]
    InvalidLink,
    #[error("{}", .0.id)]
    Password(Message),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Sets the new password; the link and every other link of the account
/// stop working, and every session issued so far ends. Returns the
/// account, to log in.
pub fn reset(
    conn: &mut DbConnection,
    token: &str,
    password: &str,
    client_ip: &str,
) -> Result<User, ResetError> {
    let password = NewPassword::parse(password).map_err(ResetError::Password)?;
    let password_hash = hash_password(password.expose())?;
    let now = db::now();
    db::write_transaction(conn, |conn| {
        // Marking the link used first: two submissions cannot both win.
        let used = diesel::update(
            password_resets::table
                .filter(password_resets::token_hash.eq(hash(token)))
                .filter(password_resets::used_at.is_null())
                .filter(password_resets::expires_at.gt(now)),
        )
        .set(password_resets::used_at.eq(now))
        .returning(password_resets::user_id)
        .get_result::<crate::models::UserId>(conn)
        .optional()?;
        let Some(user_id) = used else {
            return Err(ResetError::InvalidLink);
        };
        diesel::update(
            password_resets::table
                .filter(password_resets::user_id.eq(user_id))
                .filter(password_resets::used_at.is_null()),
        )
        .set(password_resets::used_at.eq(now))
        .execute(conn)?;
        User::set_password(conn, user_id, &password_hash, now)?;
        let user = User::find(conn, user_id)?.ok_or(ResetError::InvalidLink)?;
        // The owner may log in at once, even after many wrong tries.
        LoginAttempt::clear(conn, &format!("email:{}", user.email))?;
        LoginAttempt::clear(conn, &format!("email-ip:{}|{client_ip}", user.email))?;
        Ok(user)
    })
}
