//! Accounts: registration, login with a database-backed throttle, logout
//! that really ends sessions, and staff accounts.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::result::Error as DieselError;

use crate::db::{self, DbConnection};
use crate::domain::{DisplayName, Email, Locale, NewPassword, Role};
use crate::i18n::Message;
use crate::models::login_attempt::LoginAttempt;
use crate::models::user::{NewUser, User};
use crate::models::{UserId, is_unique_violation};

/// Failed logins allowed per account, and per client address, in one window.
/// Failed logins for one account from one address: the owner, at their
/// own address, is never locked out by someone guessing from another.
pub const MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failed logins from one address, whatever the accounts.
pub const MAX_FAILURES_PER_IP: i64 = 30;
/// Failed logins for one account from everywhere: the backstop against a
/// guess spread over many addresses.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 100;
/// Sign-ups are counted per address over this window (the limit is the
/// `SIGN_UPS_PER_HOUR` setting): sign-up is free, and a bot making
/// accounts could drain a limited promo code.
pub const SIGN_UP_WINDOW: TimeDelta = TimeDelta::hours(1);
pub const THROTTLE_WINDOW: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// What to fix (each problem of the form).
    #[error("{}", .0.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<Message>),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Deliberately says nothing about which of email or password was wrong.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {retry_after_minutes} minutes")]
    Throttled { retry_after_minutes: i64 },
    #[error(transparent)]
    Database(#[from] DieselError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("could not write the mail: {0}")]
    Mail(String),
}

/// Hashes with argon2id and the crate's recommended parameters.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified against when the email is unknown, so that a wrong email costs
/// the same time as a wrong password and does not reveal who has an account.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("kasir-timing-equaliser").unwrap_or_default());

pub struct Registration<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    /// The language of the sign-up page, kept as theirs.
    pub locale: Locale,
}

/// Creates a student account, at most `sign_ups_per_hour` per address.
/// Every field problem is reported in one message.
pub fn register(
    conn: &mut DbConnection,
    form: &Registration<'_>,
    client_ip: &str,
    sign_ups_per_hour: i64,
) -> Result<User, AccountError> {
    let now = db::now();
    let try_id = reserve_try(
        conn,
        &format!("signup:{client_ip}"),
        sign_ups_per_hour,
        SIGN_UP_WINDOW,
        now,
    )?;
    let created = create_student(conn, form, now);
    if created.is_err() {
        // Only accounts made count toward the limit.
        LoginAttempt::forget(conn, try_id)?;
    }
    created
}

fn create_student(
    conn: &mut DbConnection,
    form: &Registration<'_>,
    now: NaiveDateTime,
) -> Result<User, AccountError> {
    let email = Email::parse(form.email);
    let name = DisplayName::parse(form.name);
    let password = NewPassword::parse(form.password);
    let (email, name, password) = match (email, name, password) {
        (Ok(e), Ok(n), Ok(p)) => (e, n, p),
        (e, n, p) => {
            let problems: Vec<Message> =
                [e.err(), n.err(), p.err()].into_iter().flatten().collect();
            return Err(AccountError::Invalid(problems));
        }
    };
    let password_hash = hash_password(password.expose())?;
    NewUser {
        email: email.as_str(),
        password_hash: &password_hash,
        name: name.as_str(),
        role: Role::Student,
        created_at: now,
        updated_at: now,
        locale: Some(form.locale),
    }
    .insert(conn)
    .map_err(|e| match e {
        // The unique index decides, so two simultaneous sign-ups cannot both win.
        e if is_unique_violation(&e) => AccountError::EmailTaken,
        other => other.into(),
    })
}

/// Checks the credentials, counting failures per account and per client
/// address in the database so the limit holds across instances.
pub fn authenticate(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    client_ip: &str,
) -> Result<User, AccountError> {
    let now = db::now();
    let email = Email::parse(email)
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default();
    let pair_key = format!("email-ip:{email}|{client_ip}");
    let account_key = format!("email:{email}");
    let ip_key = format!("ip:{client_ip}");
    // Each try is counted before the password is checked and taken back if
    // it was right: concurrent guesses cannot all pass the check first.
    let mut tries = Vec::with_capacity(3);
    for (key, limit) in [
        (&ip_key, MAX_FAILURES_PER_IP),
        (&account_key, MAX_FAILURES_PER_ACCOUNT),
        (&pair_key, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS),
    ] {
        match reserve_try(conn, key, limit, THROTTLE_WINDOW, now) {
            Ok(id) => tries.push(id),
            Err(throttled) => {
                for id in tries {
                    LoginAttempt::forget(conn, id)?;
                }
                return Err(throttled);
            }
        }
    }

    let user = if email.is_empty() {
        None
    } else {
        User::find_by_email(conn, &email)?
    };
    let verified = match &user {
        Some(user) => verify_password(password, &user.password_hash),
        None => {
            verify_password(password, &DUMMY_HASH);
            false
        }
    };
    match user {
        Some(user) if verified => {
            LoginAttempt::clear(conn, &pair_key)?;
            LoginAttempt::clear(conn, &account_key)?;
            for id in tries {
                LoginAttempt::forget(conn, id)?;
            }
            Ok(user)
        }
        // The tries stay counted: a failure.
        _ => Err(AccountError::InvalidCredentials),
    }
}

/// Counts a try against `key`, or says how long until one is allowed.
pub(crate) fn reserve_try(
    conn: &mut DbConnection,
    key: &str,
    limit: i64,
    window: TimeDelta,
    now: NaiveDateTime,
) -> Result<i64, AccountError> {
    let oldest = match LoginAttempt::reserve(conn, key, limit, now - window, now)? {
        Ok(id) => return Ok(id),
        Err(oldest) => oldest,
    };
    let frees_at = oldest.unwrap_or(now) + window;
    let minutes = ((frees_at - now).num_seconds() + 59).max(60) / 60;
    Err(AccountError::Throttled {
        retry_after_minutes: minutes,
    })
}

/// Ends every session of this user: the cookies they hold carry the old
/// version and are refused from now on.
pub fn end_sessions(conn: &mut DbConnection, user_id: UserId) -> Result<(), AccountError> {
    User::bump_session_version(conn, user_id, db::now())?;
    Ok(())
}

/// Creates a staff account, or makes an existing account staff with this
/// password. Returns the user and whether it was created.
pub fn create_staff(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<(User, bool), AccountError> {
    let invalid = |m: Message| AccountError::Invalid(vec![m]);
    let parsed_email = Email::parse(email).map_err(invalid)?;
    let parsed_password = NewPassword::parse(password).map_err(invalid)?;
    if let Some(existing) = User::find_by_email(conn, parsed_email.as_str())? {
        let hash = hash_password(parsed_password.expose())?;
        User::set_role_and_password(conn, existing.id, Role::Staff, &hash, db::now())?;
        let updated = User::find(conn, existing.id)?.ok_or(DieselError::NotFound)?;
        return Ok((updated, false));
    }
    let default_name = parsed_email
        .as_str()
        .split('@')
        .next()
        .unwrap_or("Staff")
        .to_owned();
    let name = DisplayName::parse(name.unwrap_or(&default_name)).map_err(invalid)?;
    let hash = hash_password(parsed_password.expose())?;
    let now = db::now();
    let user = NewUser {
        email: parsed_email.as_str(),
        password_hash: &hash,
        name: name.as_str(),
        role: Role::Staff,
        created_at: now,
        updated_at: now,
        locale: None,
    }
    .insert(conn)?;
    Ok((user, true))
}

/// Forgets failed logins older than the window; run by the periodic sweep.
pub fn prune_login_attempts(conn: &mut DbConnection) -> Result<usize, AccountError> {
    let longest = THROTTLE_WINDOW.max(SIGN_UP_WINDOW);
    Ok(LoginAttempt::prune_before(conn, db::now() - longest)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_per_salt() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("wrong horse battery", &a));
        assert!(!verify_password("anything", "not a hash"));
    }
}
