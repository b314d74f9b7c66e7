//! API keys: `<id>.<secret>`, issued with `centralita admin credential create --api ...`, or a
//! key another product issued, taken over with `centralita admin credential import`; stored as
//! Argon2id hashes, scoped to one API.
//!
//! Argon2 is deliberately slow, and SOAP clients send the key with every call. A key that
//! verified is therefore remembered in memory (never on disk, never logged) for
//! [`CACHE_TTL`]; every use still checks in the store that the credential is not revoked, so a
//! revocation takes effect on the next call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::Directory as SqliteDirectory;
use crate::core::directory::{key_lookup_id, ApiCredential, CredentialApi, DirectoryStore};
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
    cache: Mutex<HashMap<String, Remembered>>,
}

impl KeyVerifier {
    /// A verifier over `directory`'s credentials.
    pub fn new(directory: Arc<SqliteDirectory>) -> Self {
        Self {
            directory,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The live credential `key` authenticates for `api`.
    pub async fn verify(&self, key: &str, api: CredentialApi) -> Result<ApiCredential, KeyError> {
        let key = Secret::new(key.trim().to_owned());
        // Issued keys are remembered under their id, imported ones under their bucket.
        let lookup = key_lookup_id(&key);
        let directory = self.directory.clone();
        if let Some(credential) = self.remembered(&key, &lookup) {
            let id = credential.id.clone();
            let live = tokio::task::spawn_blocking(move || directory.credential_live(&id))
                .await
                .map_err(|_| KeyError::Store)?
                .map_err(|_| KeyError::Store)?;
            if !live {
                self.forget(&lookup);
                return Err(KeyError::Refused);
            }
            return opens(credential, api);
        }
        let presented = key.clone();
        let found = tokio::task::spawn_blocking(move || directory.verify_credential(&presented))
            .await
            .map_err(|_| KeyError::Store)?
            .map_err(|_| KeyError::Store)?;
        let credential = found.ok_or(KeyError::Refused)?;
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
        let v = KeyVerifier::new(directory.clone());
        let key = expand.key.expose().to_owned();
        assert!(v.verify(&key, CredentialApi::Expand).await.is_ok());
        // Twice: the second comes from the cache.
        assert!(v.verify(&key, CredentialApi::Expand).await.is_ok());
        assert!(v.verify(&key, CredentialApi::Uscall).await.is_err());
        assert!(v
            .verify(any.key.expose(), CredentialApi::Ucontact)
            .await
            .is_ok());
        for bad in ["", "nodot", "x.y", &format!("{}x", key)] {
            assert!(v.verify(bad, CredentialApi::Expand).await.is_err(), "{bad}");
        }
        directory.revoke_credential(&expand.credential.id).unwrap();
        assert!(v.verify(&key, CredentialApi::Expand).await.is_err());
    }

    #[tokio::test]
    async fn an_imported_key_opens_its_api_as_written_until_revoked() {
        let dir = crate::test_support::TempDir::new("auth-import");
        let directory = Arc::new(SqliteDirectory::open(&dir.path().join("s.db")).unwrap());
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
        let v = KeyVerifier::new(directory.clone());
        for _ in 0..2 {
            let c = v.verify(token, CredentialApi::Uscall).await.unwrap();
            assert_eq!(c.id, imported.id);
        }
        assert!(v.verify(token, CredentialApi::Expand).await.is_err());
        for bad in [
            "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4.",
            "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4...",
            "$1$gcNiVTZp$5IqX",
        ] {
            assert!(v.verify(bad, CredentialApi::Uscall).await.is_err(), "{bad}");
        }
        directory.revoke_credential(&imported.id).unwrap();
        assert!(v.verify(token, CredentialApi::Uscall).await.is_err());
    }
}
