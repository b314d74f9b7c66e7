//! Agent passwords as USCall clients present them: the MD5 hex digest of the clear password
//! (`senhamd5`).
//!
//! MD5 itself is never stored. When an agent's password is set (`centralita admin agent add
//! --password-stdin`, or `password` in an import file), the engine also keeps an Argon2id hash
//! of the password's MD5 hex digest ([`digest_hash`]); a login that sends a digest is checked
//! against it ([`verify_digest`]). An agent whose password was set before this existed has no
//! digest hash and cannot log in with `senhamd5` until its password is set again.
//!
//! [`AgentDigestStore`] is the port that keeps these hashes beside the directory.

use super::directory::{AgentNumber, HashError, PasswordHash};
use super::md5::md5_hex;
use super::secret::Secret;
use crate::core::PortError;

/// The hash kept for `password`: Argon2id over its MD5 hex digest (lower case).
pub fn digest_hash(password: &Secret) -> Result<PasswordHash, HashError> {
    PasswordHash::hash(&Secret::new(md5_hex(password.expose().as_bytes())))
}

/// Whether `presented` (an MD5 hex digest, either case, surrounding blanks ignored) matches
/// `hash`. Anything that is not 32 hex digits is refused before hashing.
pub fn verify_digest(hash: &PasswordHash, presented: &Secret) -> bool {
    let hex = presented.expose().trim();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    hash.verify(&Secret::new(hex.to_ascii_lowercase()))
}

/// The storage port of the digest hashes, one per agent.
pub trait AgentDigestStore: Send + Sync {
    /// Sets (or replaces) the agent's digest hash.
    fn set_digest(&self, agent: &AgentNumber, hash: &PasswordHash) -> Result<(), PortError>;
    /// The agent's digest hash, if one was set.
    fn digest(&self, agent: &AgentNumber) -> Result<Option<PasswordHash>, PortError>;
    /// Removes the agent's digest hash; `false` if there was none.
    fn remove_digest(&self, agent: &AgentNumber) -> Result<bool, PortError>;
}

/// The digest hashes as the services and facades read them: async, on the blocking pool.
#[derive(Clone)]
pub struct AgentDigests {
    store: std::sync::Arc<dyn AgentDigestStore>,
}

impl AgentDigests {
    /// The digests over `store`.
    pub fn new(store: std::sync::Arc<dyn AgentDigestStore>) -> Self {
        Self { store }
    }

    /// The port itself, for provisioning (blocking).
    pub fn store(&self) -> &std::sync::Arc<dyn AgentDigestStore> {
        &self.store
    }

    /// The agent's digest hash, if one was set.
    pub async fn digest(&self, agent: &AgentNumber) -> Result<Option<PasswordHash>, PortError> {
        let (store, agent) = (self.store.clone(), agent.clone());
        crate::core::off_runtime(move || store.digest(&agent)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_hash_accepts_the_md5_of_the_password_only() {
        let hash = digest_hash(&Secret::new("segredo")).unwrap();
        let md5 = md5_hex(b"segredo");
        assert!(verify_digest(&hash, &Secret::new(md5.clone())));
        assert!(verify_digest(&hash, &Secret::new(md5.to_ascii_uppercase())));
        assert!(verify_digest(&hash, &Secret::new(format!(" {md5}\n"))));
        for bad in [
            "segredo".to_owned(),
            md5_hex(b"outra"),
            md5[..31].to_owned(),
            format!("{md5}0"),
            String::new(),
            "z".repeat(32),
        ] {
            assert!(!verify_digest(&hash, &Secret::new(bad.clone())), "{bad}");
        }
        // The stored value is not the MD5 itself.
        assert!(!hash.as_phc().contains(&md5));
    }
}
