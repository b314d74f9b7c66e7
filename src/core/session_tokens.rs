//! API session tokens (uContact's `auth/getUserToken` and `auth/EndSession`): random 256-bit
//! tokens, never logged,
//! each ending after `session_idle_seconds` without use or at `EndSession`.
//!
//! With a [`SessionStore`] (the engine's store) sessions survive an engine restart: the store
//! holds each token's hash only ([`TokenHash`]), the user and the last use, written when the
//! session opens and then at most once a minute ([`TOUCH_EVERY`]); a token this process has not
//! seen is looked up by its hash. Tokens of this process are also kept in memory, so a request
//! costs no hashing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use password_hash::rand_core::{OsRng, RngCore};
use tracing::warn;

use crate::core::secret::constant_time_eq;
use crate::core::sessions::{SessionRecord, SessionStore, TokenHash};
use crate::core::{Secret, UnixTime};

/// The most sessions held in memory at once (expired ones are dropped first; then the oldest).
const MAX_SESSIONS: usize = 10_000;

/// How stale the stored last use of a session may be, in seconds: after a restart a session may
/// end up to this much earlier than it would have.
pub const TOUCH_EVERY: i64 = 60;

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
    /// The token's hash, when sessions are stored.
    hash: Option<TokenHash>,
    /// The last use as the store has it.
    stored_use: UnixTime,
}

/// The open sessions.
pub struct Sessions {
    idle: Duration,
    open: Mutex<HashMap<String, Session>>,
    store: Option<Arc<dyn SessionStore>>,
}

/// Whether `token` has the shape of a token this facade issues (64 lowercase hex digits).
fn token_shaped(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Runs a store call off the async threads; `None` (logged) if it failed.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, crate::core::PortError> + Send + 'static,
) -> Option<T> {
    match crate::core::off_runtime(f).await {
        Ok(v) => Some(v),
        Err(e) => {
            warn!(error = %e, "session store {what} failed");
            None
        }
    }
}

async fn hash_of(token: &str) -> Option<TokenHash> {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || TokenHash::of(&token))
        .await
        .ok()
}

impl Sessions {
    /// No sessions; each ends after `idle` without use. Kept in memory only.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            open: Mutex::new(HashMap::new()),
            store: None,
        }
    }

    /// Sessions also kept in `store`, so that they survive a restart.
    pub fn with_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn idle_secs(&self) -> i64 {
        i64::try_from(self.idle.as_secs()).unwrap_or(i64::MAX)
    }

    fn remember(&self, token: String, session: Session) {
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
        open.insert(token, session);
    }

    /// Opens a session for `user`; the token is returned once.
    pub async fn open(&self, user: &str, supervisor: bool) -> Secret {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = UnixTime::now();
        let hash = match &self.store {
            Some(_) => hash_of(&token).await,
            None => None,
        };
        if let (Some(store), Some(hash)) = (&self.store, &hash) {
            let store = store.clone();
            let record = SessionRecord {
                token_hash: hash.clone(),
                user: user.to_owned(),
                supervisor,
                last_used: now,
            };
            let before = UnixTime(now.seconds().saturating_sub(self.idle_secs()));
            blocking("write", move || {
                store.session_purge(before)?;
                store.session_put(&record)
            })
            .await;
        }
        self.remember(
            token.clone(),
            Session {
                user: user.to_owned(),
                supervisor,
                last_used: Instant::now(),
                hash,
                stored_use: now,
            },
        );
        Secret::new(token)
    }

    /// The principal of a live token (its idle clock restarts); `None` for unknown or expired
    /// tokens.
    pub async fn check(&self, token: &str) -> Option<Principal> {
        let now = UnixTime::now();
        let known = {
            let mut open = self.lock();
            let idle = self.idle;
            match open.get_mut(token) {
                Some(s) if s.last_used.elapsed() >= idle => {
                    let hash = s.hash.clone();
                    open.remove(token);
                    Some(Err(hash))
                }
                Some(s) => {
                    s.last_used = Instant::now();
                    let touch = (now.seconds() - s.stored_use.seconds() >= TOUCH_EVERY)
                        .then(|| {
                            s.stored_use = now;
                            s.hash.clone()
                        })
                        .flatten();
                    Some(Ok((
                        Principal {
                            name: s.user.clone(),
                            supervisor: s.supervisor,
                        },
                        touch,
                    )))
                }
                None => None,
            }
        };
        let store = self.store.clone();
        match known {
            Some(Ok((principal, touch))) => {
                if let (Some(store), Some(hash)) = (store, touch) {
                    blocking("touch", move || store.session_touch(&hash, now)).await;
                }
                Some(principal)
            }
            Some(Err(hash)) => {
                if let (Some(store), Some(hash)) = (store, hash) {
                    blocking("delete", move || store.session_delete(&hash)).await;
                }
                None
            }
            None => self.check_stored(token, now).await,
        }
    }

    /// A token this process has not seen: a session opened before a restart, by its hash.
    async fn check_stored(&self, token: &str, now: UnixTime) -> Option<Principal> {
        let store = self.store.clone()?;
        if !token_shaped(token) {
            return None;
        }
        let hash = hash_of(token).await?;
        let record = {
            let (store, hash) = (store.clone(), hash.clone());
            blocking("read", move || store.session_get(&hash)).await??
        };
        let unused = now.seconds() - record.last_used.seconds();
        if unused >= self.idle_secs() {
            blocking("delete", move || store.session_delete(&hash)).await;
            return None;
        }
        {
            let (store, hash) = (store.clone(), hash.clone());
            blocking("touch", move || store.session_touch(&hash, now)).await;
        }
        let since = Duration::from_secs(u64::try_from(unused.max(0)).unwrap_or(0));
        self.remember(
            token.to_owned(),
            Session {
                user: record.user.clone(),
                supervisor: record.supervisor,
                last_used: Instant::now()
                    .checked_sub(since)
                    .unwrap_or_else(Instant::now),
                hash: Some(hash),
                stored_use: now,
            },
        );
        // The idle clock restarts with this use.
        if let Some(s) = self.lock().get_mut(token) {
            s.last_used = Instant::now();
        }
        Some(Principal {
            name: record.user,
            supervisor: record.supervisor,
        })
    }

    /// Ends `user`'s session `token`; `false` if there was no such session of that user.
    pub async fn end(&self, user: &str, token: &str) -> bool {
        let in_memory = {
            let mut open = self.lock();
            match open.get(token) {
                Some(s) if constant_time_eq(&s.user, user) => {
                    let hash = s.hash.clone();
                    open.remove(token);
                    Some(Some(hash))
                }
                Some(_) => Some(None),
                None => None,
            }
        };
        let Some(store) = self.store.clone() else {
            return matches!(in_memory, Some(Some(_)));
        };
        match in_memory {
            Some(Some(hash)) => {
                if let Some(hash) = hash {
                    blocking("delete", move || store.session_delete(&hash)).await;
                }
                true
            }
            Some(None) => false,
            None => {
                if !token_shaped(token) {
                    return false;
                }
                let Some(hash) = hash_of(token).await else {
                    return false;
                };
                let record = {
                    let (store, hash) = (store.clone(), hash.clone());
                    blocking("read", move || store.session_get(&hash)).await
                };
                match record.flatten() {
                    Some(r) if constant_time_eq(&r.user, user) => {
                        blocking("delete", move || store.session_delete(&hash))
                            .await
                            .unwrap_or(false)
                    }
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::PortError;

    #[tokio::test]
    async fn tokens_check_end_and_expire() {
        let s = Sessions::new(Duration::from_secs(3600));
        let t = s.open("ana", false).await;
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t.expose(), s.open("ana", false).await.expose());
        assert_eq!(s.check(t.expose()).await.unwrap().name, "ana");
        assert!(s.check("nope").await.is_none());
        assert!(!s.end("beto", t.expose()).await);
        assert!(s.end("ana", t.expose()).await);
        assert!(s.check(t.expose()).await.is_none());
        assert!(!s.end("ana", t.expose()).await);

        let short = Sessions::new(Duration::ZERO);
        let t = short.open("ana", true).await;
        assert!(short.check(t.expose()).await.is_none());
    }

    /// A store in memory, shared by the "engines" of a test.
    #[derive(Default)]
    struct Mem(Mutex<HashMap<String, SessionRecord>>);

    impl SessionStore for Mem {
        fn session_put(&self, s: &SessionRecord) -> Result<(), PortError> {
            self.0
                .lock()
                .unwrap()
                .insert(s.token_hash.as_str().into(), s.clone());
            Ok(())
        }
        fn session_get(&self, h: &TokenHash) -> Result<Option<SessionRecord>, PortError> {
            Ok(self.0.lock().unwrap().get(h.as_str()).cloned())
        }
        fn session_touch(&self, h: &TokenHash, at: UnixTime) -> Result<(), PortError> {
            if let Some(s) = self.0.lock().unwrap().get_mut(h.as_str()) {
                s.last_used = s.last_used.max(at);
            }
            Ok(())
        }
        fn session_delete(&self, h: &TokenHash) -> Result<bool, PortError> {
            Ok(self.0.lock().unwrap().remove(h.as_str()).is_some())
        }
        fn session_purge(&self, before: UnixTime) -> Result<u64, PortError> {
            let mut m = self.0.lock().unwrap();
            let n = m.len();
            m.retain(|_, s| s.last_used >= before);
            Ok((n - m.len()) as u64)
        }
    }

    #[tokio::test]
    async fn stored_sessions_survive_a_restart_as_hashes_and_still_expire() {
        let store = Arc::new(Mem::default());
        let hour = Duration::from_secs(3600);
        let first = Sessions::new(hour).with_store(store.clone());
        let t = first.open("cob7", true).await;
        let other = first.open("cobsup", false).await;
        {
            let m = store.0.lock().unwrap();
            assert_eq!(m.len(), 2);
            assert!(
                m.values()
                    .all(|r| !r.token_hash.as_str().contains(t.expose())
                        && r.token_hash != TokenHash::from_stored(t.expose()).unwrap()),
                "only hashes are stored"
            );
        }
        drop(first);

        // A new process: the token is found by its hash.
        let second = Sessions::new(hour).with_store(store.clone());
        let p = second.check(t.expose()).await.unwrap();
        assert_eq!((p.name.as_str(), p.supervisor), ("cob7", true));
        assert!(second.check(&"0".repeat(64)).await.is_none());
        assert!(second.check("not a token").await.is_none());
        // EndSession of a session this process never used; someone else's token is refused.
        assert!(!second.end("cob7", other.expose()).await);
        assert!(second.end("cobsup", other.expose()).await);
        assert!(second.end("cob7", t.expose()).await);
        let third = Sessions::new(hour).with_store(store.clone());
        assert!(third.check(t.expose()).await.is_none());
        assert!(store.0.lock().unwrap().is_empty());

        // The idle expiry holds across restarts: a session last used over an hour ago is gone.
        let t = third.open("cob7", false).await;
        for r in store.0.lock().unwrap().values_mut() {
            r.last_used = UnixTime(r.last_used.seconds() - 3601);
        }
        let fourth = Sessions::new(hour).with_store(store.clone());
        assert!(fourth.check(t.expose()).await.is_none());
        assert!(
            store.0.lock().unwrap().is_empty(),
            "the expired row is deleted"
        );
    }
}
