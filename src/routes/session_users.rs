//! The session's user, kept in memory for a moment ([`SessionUsers`]):
//! what [`super::viewer::Viewer`] believes before it asks the database.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::models::UserId;
use crate::models::billing::Billing;
use crate::models::user::User;

/// The session's user (and their billing details), kept in memory for a
/// moment: under load the same user asks page after page, and each would
/// load the same row.
///
/// Keyed by user id, and a hit needs the session's version to match: a
/// session older than the user's latest logout or password change never
/// matches. The process that makes such a change (or changes the user's
/// language, or billing details) forgets the user at once
/// ([`SessionUsers::forget`]); another instance, or `kasir create-staff`,
/// is seen within [`SessionUsers::FRESH`].
#[derive(Default)]
pub struct SessionUsers(Mutex<HashMap<UserId, Kept>>);

type Kept = (Instant, User, Billing);

impl SessionUsers {
    /// How long a cached user is believed.
    pub const FRESH: Duration = Duration::from_secs(1);
    /// At most this many users are kept (the busiest second's).
    const CAPACITY: usize = 10_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Kept>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, id: UserId, version: i32) -> Option<(User, Billing)> {
        let users = self.lock();
        let (at, user, billing) = users.get(&id)?;
        (at.elapsed() < Self::FRESH && user.session_version == version)
            .then(|| (user.clone(), billing.clone()))
    }

    pub(super) fn put(&self, user: &User, billing: &Billing) {
        let mut users = self.lock();
        if users.len() >= Self::CAPACITY {
            users.retain(|_, (at, _, _)| at.elapsed() < Self::FRESH);
            if users.len() >= Self::CAPACITY {
                users.clear();
            }
        }
        users.insert(user.id, (Instant::now(), user.clone(), billing.clone()));
    }

    /// Forgets the user: call it after a change to them commits.
    pub fn forget(&self, id: UserId) {
        self.lock().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(id: i64, version: i32) -> User {
        let at = chrono::NaiveDateTime::default();
        User {
            id: UserId(id),
            email: format!("u{id}@example.com"),
            password_hash: String::new(),
            name: format!("User {id}"),
            role: Role::Student,
            session_version: version,
            created_at: at,
            updated_at: at,
            stripe_customer_id: None,
            locale: None,
        }
    }

    #[test]
    fn a_cached_user_serves_only_their_current_session_version_for_a_second() {
        let users = SessionUsers::default();
        assert!(users.get(UserId(1), 0).is_none());
        users.put(&user(1, 3), &Billing::default());
        assert_eq!(users.get(UserId(1), 3).map(|(u, _)| u.id), Some(UserId(1)));
        // A session from before the latest logout carries an older version.
        assert!(users.get(UserId(1), 2).is_none());
        assert!(users.get(UserId(2), 3).is_none());
        users.forget(UserId(1));
        assert!(users.get(UserId(1), 3).is_none());
        // Past FRESH it is not believed.
        users.put(&user(1, 3), &Billing::default());
        users.lock().get_mut(&UserId(1)).unwrap().0 -= SessionUsers::FRESH;
        assert!(users.get(UserId(1), 3).is_none());
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let users = SessionUsers::default();
        for id in 0..(SessionUsers::CAPACITY as i64 + 5) {
            users.put(&user(id, 0), &Billing::default());
        }
        assert!(users.lock().len() <= SessionUsers::CAPACITY);
        let last = SessionUsers::CAPACITY as i64 + 4;
        assert!(users.get(UserId(last), 0).is_some(), "the newest is kept");
    }
}
