//! API keys: `<id>.<secret>`, issued with `centralita admin credential create --api ...`, or a
//! key another product issued, taken over with `centralita admin credential import`; stored as
//! Argon2id hashes, scoped to one API.
//!
//! Argon2 is deliberately slow, and SOAP clients send the key with every call. A key that
//! verified is therefore remembered in memory (never on disk, never logged) for
//! [`CACHE_TTL`]; every use still checks in the store that the credential is not revoked, so a
//! revocation takes effect on the next call. A remembered key is the fast path: it is compared
//! in constant time and never waits for the hashing pool nor for a lock-out (only its holder can
//! present it).
//!
//! Any other key is checked through the [`LoginGuard`]: failures count against the key's id
//! (`key:<id>`; an imported key's bucket) and the client's address, a locked-out one is refused
//! before hashing, an unknown key is verified against the dummy hash (the same work as a known
//! one), and the hashing runs on the bounded pool.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::core::directory::{
    key_lookup_id, split_key, valid_imported_key, ApiCredential, CredentialApi, Directory,
};
use crate::core::login_guard::{Attempt, LoginGuard};
use crate::core::secret::constant_time_eq;
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
    directory: Directory,
    guard: Arc<LoginGuard>,
    cache: Mutex<HashMap<String, Remembered>>,
}

/// The throttle's principal for key ids that are not even well formed.
const MALFORMED: &str = "key:";

impl KeyVerifier {
    /// A verifier over `directory`'s credentials, hashing through `guard`.
    pub fn new(directory: Directory, guard: Arc<LoginGuard>) -> Self {
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
        if split_key(&key).is_none() && !valid_imported_key(&key) {
            // Neither an issued nor an importable key: refused without hashing.
            self.guard.fail_unhashed(MALFORMED, client);
            return Err(KeyError::Refused);
        }
        // Issued keys are remembered under their id, imported ones under their bucket.
        let lookup = key_lookup_id(&key);
        let directory = &self.directory;
        if let Some(credential) = self.remembered(&key, &lookup) {
            let id = credential.id.clone();
            let live = directory
                .credential_live(&id)
                .await
                .map_err(|_| KeyError::Store)?;
            if !live {
                self.forget(&lookup);
                return Err(KeyError::Refused);
            }
            return opens(credential, api);
        }
        let principal = format!("key:{lookup}");
        if self.guard.locked(&principal, client) {
            return Err(KeyError::Refused);
        }
        let candidates = directory
            .key_candidates(&key)
            .await
            .map_err(|_| KeyError::Store)?;
        let candidates = candidates
            .into_iter()
            .map(|c| {
                let secret = c.presented(&key);
                (c.credential, c.hash, secret)
            })
            .collect();
        let (attempt, found) = self
            .guard
            .verify_candidates(&principal, client, candidates, key.clone())
            .await;
        let credential = match (attempt, found) {
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
                lookup,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_open_their_api_only_and_revocation_is_immediate() {
        let dir = crate::test_support::TempDir::new("auth");
        let directory = crate::test_support::directory(&dir);
        let expand = directory
            .create_credential("CRM", CredentialApi::Expand)
            .unwrap();
        let any = directory
            .create_credential("All", CredentialApi::Any)
            .unwrap();
        let guard = Arc::new(LoginGuard::new(Default::default(), 2));
        let v = KeyVerifier::new(Directory::new(directory.clone()), guard);
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

    #[tokio::test]
    async fn an_imported_key_opens_its_api_as_written_until_revoked() {
        let dir = crate::test_support::TempDir::new("auth-import");
        let directory = crate::test_support::directory(&dir);
        let token = "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..";
        let imported = directory
            .import_credential("USCall", CredentialApi::Uscall, Secret::new(token))
            .unwrap();
        // Another imported key and an issued one live beside it.
        directory
            .import_credential(
                "Other",
                CredentialApi::Uscall,
                Secret::new("another-token-1"),
            )
            .unwrap();
        directory
            .create_credential("CRM", CredentialApi::Uscall)
            .unwrap();
        let guard = Arc::new(LoginGuard::new(Default::default(), 2));
        let v = KeyVerifier::new(Directory::new(directory.clone()), guard);
        for _ in 0..2 {
            let c = v.verify(token, CredentialApi::Uscall, None).await.unwrap();
            assert_eq!(c.id, imported.id);
        }
        assert!(v.verify(token, CredentialApi::Expand, None).await.is_err());
        for bad in [
            "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4.",
            "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4...",
            "$1$gcNiVTZp$5IqX",
        ] {
            assert!(
                v.verify(bad, CredentialApi::Uscall, None).await.is_err(),
                "{bad}"
            );
        }
        directory.revoke_credential(&imported.id).unwrap();
        assert!(v.verify(token, CredentialApi::Uscall, None).await.is_err());
    }
}
