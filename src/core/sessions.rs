//! API sessions that survive an engine restart (uContact's `getUserToken`): the token is shown
//! to the client once and stored only as a [`TokenHash`]; the store keeps who the session is
//! and when it was last used, so the idle expiry holds across restarts too.
//!
//! A token is 256 random bits, so its hash needs no salt and no slowness against guessing: an
//! Argon2id of low cost with a fixed salt, deterministic so that a token is found by its hash.

use argon2::{Algorithm, Argon2, Params, Version};

use super::journal::UnixTime;
use super::PortError;

/// The hash of a session token (64 hex digits). Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        const SALT: &[u8] = b"centralita-session-token";
        let mut out = [0u8; 32];
        Params::new(256, 1, 1, Some(out.len()))
            .map(|p| Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
            .and_then(|a| a.hash_password_into(token.as_bytes(), SALT, &mut out))
            .expect("fixed Argon2 parameters and a token of bounded length are valid");
        Self(out.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A stored hash (64 hex digits).
    pub fn from_stored(s: &str) -> Option<Self> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(s.to_owned()))
    }

    /// The hex form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an agent's session (not a supervisor's, not an API key's) may act on: calls from and
/// to its own phones, and the calls that are its own. Supervisors and API keys act for anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentScope {
    /// The session's user name.
    pub username: String,
    /// The agent's number (empty when the user is no longer in the directory).
    pub number: String,
    /// The agent's phones: its default extension and the ones it is logged in from now.
    pub phones: Vec<String>,
}

impl AgentScope {
    /// Whether `phone` is one of the agent's phones.
    pub fn owns_phone(&self, phone: &str) -> bool {
        !phone.is_empty() && self.phones.iter().any(|p| p == phone)
    }

    /// Whether `agent` (a name given with a call, or an agent number of a queue call) names
    /// this agent.
    pub fn is_self(&self, agent: &str) -> bool {
        !agent.is_empty()
            && (agent == self.username || (!self.number.is_empty() && agent == self.number))
    }
}

/// One open session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The token's hash.
    pub token_hash: TokenHash,
    /// The user it belongs to.
    pub user: String,
    /// Whether the user may use supervisor operations.
    pub supervisor: bool,
    /// When it was last used (to the store's precision: see the facade).
    pub last_used: UnixTime,
}

/// Where sessions are kept.
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    fn session_put(&self, session: &SessionRecord) -> Result<(), PortError>;
    /// The session with this token hash.
    fn session_get(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, PortError>;
    /// Notes a use of the session at `at`.
    fn session_touch(&self, hash: &TokenHash, at: UnixTime) -> Result<(), PortError>;
    /// Ends the session; whether there was one.
    fn session_delete(&self, hash: &TokenHash) -> Result<bool, PortError>;
    /// Ends every session last used before `before`; how many.
    fn session_purge(&self, before: UnixTime) -> Result<u64, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_scope_owns_its_phones_and_calls_only() {
        let s = AgentScope {
            username: "cob7".into(),
            number: "2307".into(),
            phones: vec!["1007".into()],
        };
        assert!(s.owns_phone("1007"));
        for other in ["1008", "", "10070"] {
            assert!(!s.owns_phone(other), "{other}");
        }
        assert!(s.is_self("cob7") && s.is_self("2307"));
        assert!(!s.is_self("cobsup") && !s.is_self(""));
        let gone = AgentScope {
            number: String::new(),
            phones: vec![],
            ..s
        };
        assert!(!gone.is_self("") && !gone.owns_phone(""));
    }

    #[test]
    fn the_hash_is_deterministic_and_hides_the_token() {
        let t = "a".repeat(64);
        let h = TokenHash::of(&t);
        assert_eq!(h, TokenHash::of(&t));
        assert_ne!(h, TokenHash::of(&"b".repeat(64)));
        assert_eq!(h.as_str().len(), 64);
        assert!(!h.as_str().contains(&t[..16]));
        assert_eq!(TokenHash::from_stored(h.as_str()), Some(h));
        assert_eq!(TokenHash::from_stored("xyz"), None);
    }
}
