//! Session tokens (`auth/getUserToken`, `auth/EndSession`): random 256-bit tokens held in
//! memory only (never on disk, never logged), each ending after `session_idle_seconds` without
//! use, at `EndSession`, or when the engine restarts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use password_hash::rand_core::{OsRng, RngCore};

use crate::core::Secret;

/// The most sessions held at once (expired ones are dropped first; then the oldest).
const MAX_SESSIONS: usize = 10_000;

/// Who a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user name (a session) or the credential id (an API key).
    pub name: String,
    /// Whether supervisor operations are allowed (supervisor agents and API keys).
    pub supervisor: bool,
}

struct Session {
    user: String,
    supervisor: bool,
    last_used: Instant,
}

/// The open sessions.
pub struct Sessions {
    idle: Duration,
    open: Mutex<HashMap<String, Session>>,
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// No sessions; each ends after `idle` without use.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for `user`; the token is returned once.
    pub fn open(&self, user: &str, supervisor: bool) -> Secret {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut open = self.lock();
        let idle = self.idle;
        open.retain(|_, s| s.last_used.elapsed() < idle);
        if open.len() >= MAX_SESSIONS {
            if let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                open.remove(&oldest);
            }
        }
        open.insert(
            token.clone(),
            Session {
                user: user.to_owned(),
                supervisor,
                last_used: Instant::now(),
            },
        );
        Secret::new(token)
    }

    /// The principal of a live token (its idle clock restarts); `None` for unknown or expired
    /// tokens.
    pub fn check(&self, token: &str) -> Option<Principal> {
        let mut open = self.lock();
        let idle = self.idle;
        let s = open.get_mut(token)?;
        if s.last_used.elapsed() >= idle {
            open.remove(token);
            return None;
        }
        s.last_used = Instant::now();
        Some(Principal {
            name: s.user.clone(),
            supervisor: s.supervisor,
        })
    }

    /// Ends `user`'s session `token`; `false` if there was no such session of that user.
    pub fn end(&self, user: &str, token: &str) -> bool {
        let mut open = self.lock();
        let mine = open
            .get(token)
            .is_some_and(|s| constant_time_eq(&s.user, user));
        if mine {
            open.remove(token);
        }
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_end_and_expire() {
        let s = Sessions::new(Duration::from_secs(3600));
        let t = s.open("ana", false);
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t.expose(), s.open("ana", false).expose());
        assert_eq!(s.check(t.expose()).unwrap().name, "ana");
        assert!(s.check("nope").is_none());
        assert!(!s.end("beto", t.expose()));
        assert!(s.end("ana", t.expose()));
        assert!(s.check(t.expose()).is_none());
        assert!(!s.end("ana", t.expose()));

        let short = Sessions::new(Duration::ZERO);
        let t = short.open("ana", true);
        assert!(short.check(t.expose()).is_none());
    }
}
