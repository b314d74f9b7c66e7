//! API keys: `<id>.<secret>`, issued with `centralita admin credential create --api ...`, stored
//! as Argon2id hashes, scoped to one API.
//!
//! Argon2 is deliberately slow, and SOAP clients send the key with every call. A key that
//! verified is therefore remembered in memory (never on disk, never logged) for
//! [`CACHE_TTL`]; every use still checks in the store that the credential is not revoked, so a
//! revocation takes effect on the next call. A remembered key is the fast path: it is compared
//! in constant time and never waits for the hashing pool nor for a lock-out (only its holder can
//! present it).
//!
//! Any other key is checked through the [`LoginGuard`]: failures count against the key's id
//! (`key:<id>`) and the client's address, a locked-out one is refused before hashing, an
//! unknown id is verified against the dummy hash (the same work as a known one), and the
//! hashing runs on the bounded pool.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::Directory as SqliteDirectory;
use crate::core::directory::{split_key, ApiCredential, CredentialApi, DirectoryStore};
use crate::core::login_guard::{Attempt, LoginGuard};
use crate::core::Secret;

/// How long a verified key is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// The most keys remembered at once (the cache is emptied when full).
const CACHE_MAX: usize = 1024;

/// Why a key was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Unknown, malformed, revoked, or for another API.
    #[error("the key is not valid for this API")]
    Refused,
    /// The store could not be read.
    #[error("the credential store is unavailable")]
    Store,
}

struct Remembered {
    secret: Secret,
    credential: ApiCredential,
    at: Instant,
}

/// Checks presented keys against the directory.
pub struct KeyVerifier {
    directory: Arc<SqliteDirectory>,
    guard: Arc<LoginGuard>,
    cache: Mutex<HashMap<String, Remembered>>,
}

/// The throttle's principal for key ids that are not even well formed.
const MALFORMED: &str = "key:";

impl KeyVerifier {
    /// A verifier over `directory`'s credentials, hashing through `guard`.
    pub fn new(directory: Arc<SqliteDirectory>, guard: Arc<LoginGuard>) -> Self {
        Self {
            directory,
            guard,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The live credential `key` authenticates for `api`, presented by a client at `client`
    /// (for the throttle; `None` when unknown).
    pub async fn verify(
        &self,
        key: &str,
        api: CredentialApi,
        client: Option<IpAddr>,
    ) -> Result<ApiCredential, KeyError> {
        let key = Secret::new(key.trim().to_owned());
        if key.expose().is_empty() {
            // No key at all is not a guess.
            return Err(KeyError::Refused);
        }
        let Some((id, secret)) = split_key(&key) else {
            self.guard.fail_unhashed(MALFORMED, client);
            return Err(KeyError::Refused);
        };
        let directory = self.directory.clone();
        if let Some(credential) = self.remembered(&key, id.as_str()) {
            let live = tokio::task::spawn_blocking(move || directory.credential_live(&id))
                .await
                .map_err(|_| KeyError::Store)?
                .map_err(|_| KeyError::Store)?;
            if !live {
                self.forget(credential.id.as_str());
                return Err(KeyError::Refused);
            }
            return opens(credential, api);
        }
        let principal = format!("key:{id}");
        if self.guard.locked(&principal, client) {
            return Err(KeyError::Refused);
        }
        let found = tokio::task::spawn_blocking(move || directory.credential_hash(&id))
            .await
            .map_err(|_| KeyError::Store)?
            .map_err(|_| KeyError::Store)?;
        let (credential, hash) = match found {
            Some((c, h)) => (Some(c), Some(h)),
            None => (None, None),
        };
        let attempt = self.guard.verify(&principal, client, hash, secret).await;
        let credential = match (attempt, credential) {
            (Attempt::Accepted, Some(c)) => c,
            _ => return Err(KeyError::Refused),
        };
        {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                credential.id.as_str().to_owned(),
                Remembered {
                    secret: key,
                    credential: credential.clone(),
                    at: Instant::now(),
                },
            );
        }
        opens(credential, api)
    }

    fn remembered(&self, key: &Secret, id: &str) -> Option<ApiCredential> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = cache.get(id)?;
        (r.at.elapsed() < CACHE_TTL && constant_time_eq(r.secret.expose(), key.expose()))
            .then(|| r.credential.clone())
    }

    fn forget(&self, id: &str) {
        {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.remove(id);
        }
    }
}

fn opens(credential: ApiCredential, api: CredentialApi) -> Result<ApiCredential, KeyError> {
    if credential.api.opens(api) {
        Ok(credential)
    } else {
        Err(KeyError::Refused)
    }
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_open_their_api_only_and_revocation_is_immediate() {
        let dir = crate::test_support::TempDir::new("auth");
        let directory = Arc::new(SqliteDirectory::open(&dir.path().join("s.db")).unwrap());
        let expand = directory
            .create_credential("CRM", CredentialApi::Expand)
            .unwrap();
        let any = directory
            .create_credential("All", CredentialApi::Any)
            .unwrap();
        let guard = Arc::new(LoginGuard::new(Default::default(), 2));
        let v = KeyVerifier::new(directory.clone(), guard);
        let key = expand.key.expose().to_owned();
        assert!(v.verify(&key, CredentialApi::Expand, None).await.is_ok());
        // Twice: the second comes from the cache.
        assert!(v.verify(&key, CredentialApi::Expand, None).await.is_ok());
        assert!(v.verify(&key, CredentialApi::Uscall, None).await.is_err());
        assert!(v
            .verify(any.key.expose(), CredentialApi::Ucontact, None)
            .await
            .is_ok());
        for bad in ["", "nodot", "x.y", &format!("{}x", key)] {
            assert!(
                v.verify(bad, CredentialApi::Expand, None).await.is_err(),
                "{bad}"
            );
        }
        directory.revoke_credential(&expand.credential.id).unwrap();
        assert!(v.verify(&key, CredentialApi::Expand, None).await.is_err());
    }
}
