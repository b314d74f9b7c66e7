//! The directory: agents, pause reasons and API credentials, with the port [`DirectoryStore`]
//! that keeps them.
//!
//! Identifiers are validated newtypes ([`AgentNumber`], [`QueueName`], [`PauseReasonId`],
//! [`Extension`]): a value that exists fits the alphabet every adapter can carry (AMI fields,
//! SQL, URLs), so no adapter has to re-check it for injection.
//!
//! Passwords and API secrets are stored only as Argon2id hashes in PHC form ([`PasswordHash`]);
//! the clear value is a [`Secret`] (redacted in `Debug`) and leaves the engine once, when a
//! credential is issued.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use password_hash::rand_core::{OsRng, RngCore};

use super::journal::UnixTime;
use super::secret::Secret;
use super::{off_runtime, PortError};

/// A value refused as an identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    /// What it was meant to be (`agent number`, `queue`, ...).
    pub kind: &'static str,
    /// The refused value (identifiers are not secret).
    pub value: String,
    /// Why.
    pub reason: &'static str,
}

fn check_id(
    kind: &'static str,
    value: &str,
    max: usize,
    extra: &str,
    reason: &'static str,
) -> Result<(), IdError> {
    let err = |reason| IdError {
        kind,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(err("must not be empty"));
    }
    if value.len() > max {
        return Err(err("too long"));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(err(reason));
    }
    Ok(())
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, max = $max:literal, extra = $extra:literal,
     reason = $reason:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates a value.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_id($kind, &value, $max, $extra, $reason)?;
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_id!(
    /// An agent's number (e.g. `2005`): the agent's identity in the directory and the member
    /// name Asterisk shows for the agent in queues and `queue_log`. `[A-Za-z0-9_-]`, ≤ 32.
    AgentNumber, "agent number", max = 32, extra = "_-",
    reason = "only letters, digits, _ and - are allowed"
);

/// The agent's identity: its number.
pub type AgentId = AgentNumber;

validated_id!(
    /// An Asterisk queue name (e.g. `q_ventas`). `[A-Za-z0-9_-]`, ≤ 64.
    QueueName, "queue", max = 64, extra = "_-",
    reason = "only letters, digits, _ and - are allowed"
);

validated_id!(
    /// A pause reason's id (e.g. `almuerzo`): the reason Asterisk records with the pause.
    /// `[A-Za-z0-9_-]`, ≤ 32.
    PauseReasonId, "pause reason", max = 32, extra = "_-",
    reason = "only letters, digits, _ and - are allowed"
);

validated_id!(
    /// A phone's extension, which is also its endpoint on the PBX (e.g. `1005`; its device is
    /// named by [`crate::core::naming::ChannelNaming`]). `[A-Za-z0-9_-]`,
    /// ≤ 32.
    Extension, "extension", max = 32, extra = "_-",
    reason = "only letters, digits, _ and - are allowed"
);

validated_id!(
    /// A trunk's name, which is its endpoint on the PBX (e.g. `carrier`). `[A-Za-z0-9_-]`, ≤ 64.
    TrunkName, "trunk", max = 64, extra = "_-",
    reason = "only letters, digits, _ and - are allowed"
);

validated_id!(
    /// An API credential's public id (the part of the key before the dot). `[a-z0-9]`, ≤ 32.
    CredentialId, "credential id", max = 32, extra = "",
    reason = "only letters and digits are allowed"
);

/// An Argon2id hash in PHC string form (`$argon2id$v=19$...`). Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordHash(String);

/// Hashing or parsing a hash failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The stored value is not a PHC hash.
    #[error("stored password hash is malformed")]
    Malformed,
    /// The hasher refused (should not happen with the default parameters).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl PasswordHash {
    /// Hashes `secret` with Argon2id (default parameters) and a fresh random salt.
    pub fn hash(secret: &Secret) -> Result<Self, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(secret.expose().as_bytes(), &salt)
            .map(|h| Self(h.to_string()))
            .map_err(|e| HashError::Hashing(e.to_string()))
    }

    /// Wraps a stored PHC string, checking that it parses.
    pub fn from_phc(phc: impl Into<String>) -> Result<Self, HashError> {
        let phc = phc.into();
        password_hash::PasswordHash::new(&phc).map_err(|_| HashError::Malformed)?;
        Ok(Self(phc))
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether `secret` matches this hash (constant-time comparison inside Argon2).
    pub fn verify(&self, secret: &Secret) -> bool {
        match password_hash::PasswordHash::new(&self.0) {
            Ok(parsed) => Argon2::default()
                .verify_password(secret.expose().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// An agent of the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// The agent's number and identity.
    pub number: AgentNumber,
    /// Login name for the client APIs.
    pub username: String,
    /// Full name.
    pub full_name: String,
    /// E-mail address, if any.
    pub email: Option<String>,
    /// Profile (free label the facades interpret, e.g. `agente`, `supervisor`).
    pub profile: String,
    /// Whether the agent may supervise (listen, whisper, barge).
    pub supervisor: bool,
    /// The password's hash; `None`: the agent cannot log in to the client APIs.
    pub password_hash: Option<PasswordHash>,
    /// The queues the agent belongs to (login adds the agent to all of them).
    pub queues: Vec<QueueName>,
    /// The phone the agent logs in from when the login names none.
    pub default_extension: Option<Extension>,
}

impl Agent {
    /// A new agent with the given number, no password, no queues.
    pub fn new(number: AgentNumber) -> Self {
        Self {
            username: number.as_str().to_owned(),
            full_name: String::new(),
            email: None,
            profile: "agent".to_owned(),
            supervisor: false,
            password_hash: None,
            queues: Vec::new(),
            default_extension: None,
            number,
        }
    }

    /// Whether the agent belongs to `queue`.
    pub fn in_queue(&self, queue: &QueueName) -> bool {
        self.queues.contains(queue)
    }
}

/// A reason an agent may give for a pause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseReason {
    /// The id, sent to Asterisk as the pause reason.
    pub id: PauseReasonId,
    /// The display name.
    pub name: String,
    /// The longest the pause should last, if limited (seconds).
    pub max_seconds: Option<u32>,
    /// The queues it may be used in; empty: every queue.
    pub queues: Vec<QueueName>,
}

impl PauseReason {
    /// Whether the reason may be used in `queue`.
    pub fn allowed_in(&self, queue: &QueueName) -> bool {
        self.queues.is_empty() || self.queues.contains(queue)
    }
}

/// Which client API a credential opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialApi {
    /// The eXpand SOAP webservice (`authorizedKey`).
    Expand,
    /// The USCall SOAP webservice (`token`).
    Uscall,
    /// The uContact Integra REST API (`Authorization: Bearer`).
    Ucontact,
    /// The eXpand REST API (`expandweb3/api/...`, HTTP Basic: the key's id as user name, its
    /// secret as password).
    ExpandRest,
    /// Every API (keys issued before credentials were scoped).
    Any,
}

impl CredentialApi {
    /// The name stored and shown (`expand`, `uscall`, `ucontact`, `expand-rest`, `any`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expand => "expand",
            Self::Uscall => "uscall",
            Self::Ucontact => "ucontact",
            Self::ExpandRest => "expand-rest",
            Self::Any => "any",
        }
    }

    /// The API with this name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Expand,
            Self::Uscall,
            Self::Ucontact,
            Self::ExpandRest,
            Self::Any,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// Whether a credential of this scope opens `api`.
    pub fn opens(self, api: CredentialApi) -> bool {
        self == Self::Any || self == api
    }
}

/// An API credential as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCredential {
    /// The public id (the key's prefix).
    pub id: CredentialId,
    /// Which client system it was issued to (description).
    pub system: String,
    /// The API it opens.
    pub api: CredentialApi,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
}

/// A credential just issued: the only moment its clear key exists.
#[derive(Debug)]
pub struct IssuedCredential {
    /// What will be listed.
    pub credential: ApiCredential,
    /// The full key to hand to the client: `<id>.<secret>`. Shown once, never stored.
    pub key: Secret,
    /// What is stored.
    pub hash: PasswordHash,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl IssuedCredential {
    /// Issues a new credential for `system` on `api`: a random id and a 256-bit random secret,
    /// hashed.
    pub fn issue(system: &str, api: CredentialApi, now: UnixTime) -> Result<Self, HashError> {
        let id = CredentialId::new(random_hex(8)).map_err(|e| HashError::Hashing(e.to_string()))?;
        let secret = Secret::new(random_hex(32));
        let hash = PasswordHash::hash(&secret)?;
        let key = Secret::new(format!("{id}.{}", secret.expose()));
        Ok(Self::new(id, system, api, now, key, hash))
    }

    fn new(
        id: CredentialId,
        system: &str,
        api: CredentialApi,
        now: UnixTime,
        key: Secret,
        hash: PasswordHash,
    ) -> Self {
        Self {
            credential: ApiCredential {
                id,
                system: system.to_owned(),
                api,
                created_at: now,
                revoked_at: None,
            },
            key,
            hash,
        }
    }

    /// Takes over a key another system issued (a token that integrations of the product being
    /// replaced already send, such as a USCall `$1$...` token), so those integrations keep it.
    /// Its id is [`imported_key_bucket`] plus 8 random hex digits; the whole key is hashed.
    pub fn import(
        system: &str,
        api: CredentialApi,
        key: Secret,
        now: UnixTime,
    ) -> Result<Self, HashError> {
        if !valid_imported_key(&key) {
            return Err(HashError::Hashing(
                "an imported key is 8 to 256 visible ASCII characters".into(),
            ));
        }
        let id = CredentialId::new(format!("{}{}", imported_key_bucket(&key), random_hex(4)))
            .map_err(|e| HashError::Hashing(e.to_string()))?;
        let hash = PasswordHash::hash(&key)?;
        Ok(Self::new(id, system, api, now, key, hash))
    }
}

/// The first letters of every imported key's id. Issued ids are hex, so they never start so.
pub const IMPORTED_ID_PREFIX: &str = "imp";

/// Whether `key` can be imported: 8 to 256 visible ASCII characters (no spaces or controls).
pub fn valid_imported_key(key: &Secret) -> bool {
    let k = key.expose();
    (8..=256).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

/// Where the store looks for an imported key: [`IMPORTED_ID_PREFIX`] and the first 4 hex digits
/// of the key's MD5. Only 16 bits, so a key is found among a handful of candidates while the
/// stored ids say next to nothing about the keys.
pub fn imported_key_bucket(key: &Secret) -> String {
    let d = super::md5::md5(key.expose().as_bytes());
    format!("{IMPORTED_ID_PREFIX}{:02x}{:02x}", d[0], d[1])
}

/// The id a presented key is remembered under: an issued key's id, else its import bucket.
pub fn key_lookup_id(key: &Secret) -> String {
    match split_key(key) {
        Some((id, _)) => id.as_str().to_owned(),
        None => imported_key_bucket(key),
    }
}

/// A stored credential a presented key may be.
#[derive(Clone, Debug)]
pub struct KeyCandidate {
    /// The credential.
    pub credential: ApiCredential,
    /// Its hash.
    pub hash: PasswordHash,
    /// Whether the hash is of the whole key (an imported key) or of its secret part (an issued
    /// `<id>.<secret>`).
    pub whole_key: bool,
}

impl KeyCandidate {
    /// What of `key` is checked against this candidate's hash.
    pub fn presented(&self, key: &Secret) -> Secret {
        if self.whole_key {
            key.clone()
        } else {
            split_key(key).map_or_else(|| key.clone(), |(_, secret)| secret)
        }
    }
}

/// Splits a presented key `<id>.<secret>` into its id and secret part.
pub fn split_key(key: &Secret) -> Option<(CredentialId, Secret)> {
    let (id, secret) = key.expose().split_once('.')?;
    if secret.is_empty() {
        return None;
    }
    Some((CredentialId::new(id).ok()?, Secret::new(secret)))
}

/// The storage port of the directory.
pub trait DirectoryStore: Send + Sync {
    /// Creates or replaces the agent with this number.
    fn upsert_agent(&self, agent: &Agent) -> Result<(), PortError>;
    /// The agent with this number.
    fn agent(&self, number: &AgentNumber) -> Result<Option<Agent>, PortError>;
    /// Every agent, by number.
    fn agents(&self) -> Result<Vec<Agent>, PortError>;
    /// Removes an agent; `false` if there was none.
    fn remove_agent(&self, number: &AgentNumber) -> Result<bool, PortError>;

    /// Creates or replaces the pause reason with this id.
    fn upsert_pause_reason(&self, reason: &PauseReason) -> Result<(), PortError>;
    /// The pause reason with this id.
    fn pause_reason(&self, id: &PauseReasonId) -> Result<Option<PauseReason>, PortError>;
    /// Every pause reason, by id.
    fn pause_reasons(&self) -> Result<Vec<PauseReason>, PortError>;
    /// Removes a pause reason; `false` if there was none.
    fn remove_pause_reason(&self, id: &PauseReasonId) -> Result<bool, PortError>;

    /// Issues and stores (hashed) a credential for `system` on `api`; the returned key is the
    /// only copy.
    fn create_credential(
        &self,
        system: &str,
        api: CredentialApi,
    ) -> Result<IssuedCredential, PortError>;
    /// Stores (hashed) a key another system issued, for `system` on `api`
    /// ([`IssuedCredential::import`]).
    fn import_credential(
        &self,
        system: &str,
        api: CredentialApi,
        key: Secret,
    ) -> Result<ApiCredential, PortError>;
    /// Whether the credential with this id exists and is not revoked (cheap: no hashing).
    fn credential_live(&self, id: &CredentialId) -> Result<bool, PortError>;
    /// The live (not revoked) credential that `key` authenticates, if any (hashes here; the
    /// facades use [`DirectoryStore::key_candidates`] and hash on the login guard's pool).
    fn verify_credential(&self, key: &Secret) -> Result<Option<ApiCredential>, PortError>;
    /// The live credentials `key` may be, with their hashes (cheap: no hashing): the row of an
    /// issued key's id, else the rows of an imported key's bucket.
    fn key_candidates(&self, key: &Secret) -> Result<Vec<KeyCandidate>, PortError>;
    /// Revokes a credential; `false` if there was no such live credential.
    fn revoke_credential(&self, id: &CredentialId) -> Result<bool, PortError>;
    /// Every credential (revoked ones too), without secrets, by creation time.
    fn credentials(&self) -> Result<Vec<ApiCredential>, PortError>;

    /// [`DirectoryStore::agents`] if the adapter has the answer at hand without blocking (a
    /// cache known to be current), else `None`: the caller then reads
    /// [`DirectoryStore::agents`] off the runtime. Never blocks.
    fn try_agents(&self) -> Option<Vec<Agent>> {
        None
    }
    /// [`DirectoryStore::pause_reasons`] without blocking, as [`DirectoryStore::try_agents`].
    fn try_pause_reasons(&self) -> Option<Vec<PauseReason>> {
        None
    }
    /// [`DirectoryStore::credential_live`] without blocking, as [`DirectoryStore::try_agents`].
    fn try_credential_live(&self, _id: &CredentialId) -> Option<bool> {
        None
    }
}

/// The directory as the services and facades read it: async; a read the port answers without
/// blocking (its `try_*` fast path) is answered at once, any other runs on the blocking pool.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn DirectoryStore>,
}

impl Directory {
    /// The directory over `store`.
    pub fn new(store: Arc<dyn DirectoryStore>) -> Self {
        Self { store }
    }

    /// The port itself, for provisioning (the admin command line and test fixtures; blocking).
    pub fn store(&self) -> &Arc<dyn DirectoryStore> {
        &self.store
    }

    /// The agent with this number.
    pub async fn agent(&self, number: &AgentNumber) -> Result<Option<Agent>, PortError> {
        if let Some(agents) = self.store.try_agents() {
            return Ok(agents.into_iter().find(|a| &a.number == number));
        }
        let (store, number) = (self.store.clone(), number.clone());
        off_runtime(move || store.agent(&number)).await
    }

    /// Every agent, by number.
    pub async fn agents(&self) -> Result<Vec<Agent>, PortError> {
        if let Some(agents) = self.store.try_agents() {
            return Ok(agents);
        }
        let store = self.store.clone();
        off_runtime(move || store.agents()).await
    }

    /// The agent a client names, the same way in every facade: by user name, else by number.
    pub async fn find_agent(&self, key: &str) -> Result<Option<Agent>, PortError> {
        Ok(find_agent_in(self.agents().await?, key))
    }

    /// The pause reason with this id.
    pub async fn pause_reason(&self, id: &PauseReasonId) -> Result<Option<PauseReason>, PortError> {
        if let Some(reasons) = self.store.try_pause_reasons() {
            return Ok(reasons.into_iter().find(|r| &r.id == id));
        }
        let (store, id) = (self.store.clone(), id.clone());
        off_runtime(move || store.pause_reason(&id)).await
    }

    /// Every pause reason, by id.
    pub async fn pause_reasons(&self) -> Result<Vec<PauseReason>, PortError> {
        if let Some(reasons) = self.store.try_pause_reasons() {
            return Ok(reasons);
        }
        let store = self.store.clone();
        off_runtime(move || store.pause_reasons()).await
    }

    /// Whether the credential with this id exists and is not revoked.
    pub async fn credential_live(&self, id: &CredentialId) -> Result<bool, PortError> {
        if let Some(live) = self.store.try_credential_live(id) {
            return Ok(live);
        }
        let (store, id) = (self.store.clone(), id.clone());
        off_runtime(move || store.credential_live(&id)).await
    }

    /// The live credentials `key` may be, with their hashes (no hashing here).
    pub async fn key_candidates(&self, key: &Secret) -> Result<Vec<KeyCandidate>, PortError> {
        let (store, key) = (self.store.clone(), key.clone());
        off_runtime(move || store.key_candidates(&key)).await
    }
}

/// Of `agents`, the one whose user name is `key`, else the one numbered `key`.
pub fn find_agent_in(agents: Vec<Agent>, key: &str) -> Option<Agent> {
    let by_name = agents
        .iter()
        .position(|a| !a.username.is_empty() && a.username == key);
    let by_number = || agents.iter().position(|a| a.number.as_str() == key);
    let i = by_name.or_else(by_number)?;
    agents.into_iter().nth(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_check_their_alphabet() {
        for ok in ["2005", "ana_b", "q-1"] {
            assert!(AgentNumber::new(ok).is_ok(), "{ok}");
            assert!(QueueName::new(ok).is_ok(), "{ok}");
            assert!(PauseReasonId::new(ok).is_ok(), "{ok}");
            assert!(Extension::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a\r\nAction: Logoff",
            "PJSIP/1001",
            "a&b",
            "x,y",
            "ñ",
        ] {
            assert!(AgentNumber::new(bad).is_err(), "{bad:?}");
            assert!(QueueName::new(bad).is_err(), "{bad:?}");
            assert!(PauseReasonId::new(bad).is_err(), "{bad:?}");
            assert!(Extension::new(bad).is_err(), "{bad:?}");
        }
        assert!(QueueName::new("q".repeat(65)).is_err());
        assert!(CredentialId::new("abc.def").is_err());
    }

    #[test]
    fn imported_keys_keep_their_text_and_get_an_id_of_their_bucket() {
        let key = Secret::new("$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..");
        let c = IssuedCredential::import("USCall", CredentialApi::Uscall, key.clone(), UnixTime(0))
            .unwrap();
        assert!(c
            .credential
            .id
            .as_str()
            .starts_with(&imported_key_bucket(&key)));
        assert_eq!(c.credential.id.as_str().len(), 15);
        assert!(c.hash.verify(&key));
        assert_eq!(key_lookup_id(&key), imported_key_bucket(&key));
        let issued = IssuedCredential::issue("x", CredentialApi::Any, UnixTime(0)).unwrap();
        assert_eq!(key_lookup_id(&issued.key), issued.credential.id.as_str());
        assert!(!issued
            .credential
            .id
            .as_str()
            .starts_with(IMPORTED_ID_PREFIX));
        for bad in [
            "short",
            "with space inside",
            "tab\there12",
            &"x".repeat(257),
            "ñandú-token",
        ] {
            assert!(
                IssuedCredential::import("x", CredentialApi::Any, Secret::new(bad), UnixTime(0))
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn password_hash_verifies_and_hides_the_password() {
        let pw = Secret::new("correct horse");
        let h = PasswordHash::hash(&pw).unwrap();
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(!h.as_phc().contains("correct horse"));
        assert!(h.verify(&pw));
        assert!(!h.verify(&Secret::new("wrong")));
        assert_eq!(PasswordHash::from_phc(h.as_phc()).unwrap(), h);
        assert_eq!(PasswordHash::from_phc("nope"), Err(HashError::Malformed));
        // Same password, different salt.
        assert_ne!(PasswordHash::hash(&pw).unwrap(), h);
    }

    #[test]
    fn issued_key_splits_into_id_and_secret() {
        let issued = IssuedCredential::issue("crm", CredentialApi::Expand, UnixTime(1)).unwrap();
        let (id, secret) = split_key(&issued.key).unwrap();
        assert_eq!(id, issued.credential.id);
        assert!(issued.hash.verify(&secret));
        assert!(!format!("{issued:?}").contains(secret.expose()));
        assert!(split_key(&Secret::new("nodot")).is_none());
        assert!(split_key(&Secret::new("id.")).is_none());
    }

    #[test]
    fn pause_reason_queue_rule() {
        let q = |s| QueueName::new(s).unwrap();
        let mut r = PauseReason {
            id: PauseReasonId::new("almuerzo").unwrap(),
            name: "Almuerzo".into(),
            max_seconds: Some(1800),
            queues: vec![],
        };
        assert!(r.allowed_in(&q("q_ventas")));
        r.queues = vec![q("q_ventas")];
        assert!(r.allowed_in(&q("q_ventas")));
        assert!(!r.allowed_in(&q("q_soporte")));
    }
}
