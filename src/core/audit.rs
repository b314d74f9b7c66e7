//! The journal of the engine's own actions: who asked for what, through which API, and how it
//! ended ([`EngineAction`]), and its storage port [`ActionJournal`].
//!
//! Services record an entry for every command they carry out on behalf of an [`Actor`] (a facade's
//! authenticated credential or user, the admin CLI, or the engine itself). Recording is best
//! effort: a journal that cannot be written is logged and never undoes or blocks the action.
//!
//! **Architecture Invariant:** `params` never carries a secret (passwords, keys, AMI secrets):
//! callers build it from non-secret fields only.

use std::sync::Arc;

use super::journal::{TimeRange, UnixTime};
use crate::core::PortError;

/// The API an action came through.
pub mod api {
    /// eXpand's SOAP facade.
    pub const EXPAND: &str = "expand";
    /// USCall's facade.
    pub const USCALL: &str = "uscall";
    /// uContact's facade.
    pub const UCONTACT: &str = "ucontact";
    /// eXpand's REST facade.
    pub const EXPAND_REST: &str = "expand-rest";
    /// The `centralita admin` command line.
    pub const ADMIN: &str = "admin";
    /// The engine's outbound dialer (principal `dialer`; its campaign is the originate's).
    pub const DIALER: &str = "dialer";
    /// The engine on its own behalf (timers, resyncs, tests).
    pub const ENGINE: &str = "engine";
}

/// Who asks: the API a request came through and the principal it authenticated as (a
/// credential id, a user name). Never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// One of [`api`]'s names.
    pub api: String,
    /// The credential id or user name.
    pub principal: String,
    /// The client system an API credential was issued to (its description), when the
    /// principal is a credential. Used to find the principal's outbound policy; never a secret.
    pub system: Option<String>,
}

impl Actor {
    /// An actor of `api` authenticated as `principal`.
    pub fn new(api: impl Into<String>, principal: impl Into<String>) -> Self {
        Self {
            api: api.into(),
            principal: principal.into(),
            system: None,
        }
    }

    /// The same actor, noting the client system its credential was issued to.
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// The engine itself.
    pub fn engine() -> Self {
        Self::new(api::ENGINE, "engine")
    }

    /// The admin command line, run by `user`.
    pub fn admin(user: impl Into<String>) -> Self {
        Self::new(api::ADMIN, user)
    }
}

/// One entry of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineAction {
    /// When the action finished (UTC).
    pub at: UnixTime,
    /// The API it came through (see [`api`]).
    pub api: String,
    /// Who asked (credential id or user).
    pub principal: String,
    /// What was asked, e.g. `originate.start`, `agent.pause`.
    pub action: String,
    /// What it was asked of: a job id, an agent number.
    pub target: String,
    /// The request's other parameters, `k=v` separated by spaces; never a secret.
    pub params: String,
    /// `ok`, or `error: <why>`.
    pub outcome: String,
}

impl EngineAction {
    /// An entry at the current time.
    pub fn now(
        actor: &Actor,
        action: impl Into<String>,
        target: impl Into<String>,
        params: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            at: UnixTime::now(),
            api: actor.api.clone(),
            principal: actor.principal.clone(),
            action: action.into(),
            target: target.into(),
            params: params.into(),
            outcome: outcome.into(),
        }
    }
}

/// The outcome text of a result: `ok` or `error: <message>: <source>: ...`.
pub fn outcome_of<T, E: std::error::Error>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            let mut text = format!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// Which entries [`ActionJournal::list`] returns; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionFilter {
    /// Only this API.
    pub api: Option<String>,
    /// Only this principal.
    pub principal: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// At most this many entries (the oldest first). `None`: all.
    pub limit: Option<usize>,
}

/// The port to the journal of actions.
pub trait ActionJournal: Send + Sync {
    /// Appends one entry.
    fn record(&self, action: &EngineAction) -> Result<(), PortError>;

    /// Entries whose time lies in `range` and that match `filter`, oldest first (entries of the
    /// same second in the order they were recorded).
    fn list(&self, range: TimeRange, filter: &ActionFilter)
        -> Result<Vec<EngineAction>, PortError>;
}

/// Records `entry` off the async threads; a failure is logged, never returned (the action it
/// describes has already happened).
pub async fn record_quietly(journal: Option<&Arc<dyn ActionJournal>>, entry: EngineAction) {
    let Some(journal) = journal.cloned() else {
        return;
    };
    let written = tokio::task::spawn_blocking(move || {
        let result = journal.record(&entry);
        (result, entry)
    })
    .await;
    match written {
        Ok((Ok(()), _)) => {}
        Ok((Err(error), entry)) => tracing::warn!(
            %error,
            action = %entry.action,
            target = %entry.target,
            "engine action not journaled"
        ),
        Err(error) => tracing::warn!(%error, "engine action not journaled"),
    }
}

/// An in-memory journal (tests, and engines without a store).
#[derive(Debug, Default)]
pub struct MemoryActionJournal {
    entries: std::sync::Mutex<Vec<EngineAction>>,
}

impl MemoryActionJournal {
    /// Every entry so far, in recording order.
    pub fn entries(&self) -> Vec<EngineAction> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Whether `entry` lies in `range` and matches `filter` (limit aside).
pub fn matches(entry: &EngineAction, range: TimeRange, filter: &ActionFilter) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    range.contains(entry.at)
        && eq(&filter.api, &entry.api)
        && eq(&filter.principal, &entry.principal)
        && eq(&filter.action, &entry.action)
        && eq(&filter.target, &entry.target)
}

impl ActionJournal for MemoryActionJournal {
    fn record(&self, action: &EngineAction) -> Result<(), PortError> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(action.clone());
        Ok(())
    }

    fn list(
        &self,
        range: TimeRange,
        filter: &ActionFilter,
    ) -> Result<Vec<EngineAction>, PortError> {
        let mut out: Vec<EngineAction> = self
            .entries()
            .into_iter()
            .filter(|e| matches(e, range, filter))
            .collect();
        out.sort_by_key(|e| e.at);
        if let Some(limit) = filter.limit {
            out.truncate(limit);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64, api: &str, who: &str, action: &str, target: &str) -> EngineAction {
        EngineAction {
            at: UnixTime(at),
            api: api.into(),
            principal: who.into(),
            action: action.into(),
            target: target.into(),
            params: String::new(),
            outcome: "ok".into(),
        }
    }

    #[test]
    fn outcome_text() {
        #[derive(Debug, thiserror::Error)]
        #[error("queue action failed")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(outcome_of(&Ok::<(), Outer>(())), "ok");
        let e = Outer(std::io::Error::other("disconnected"));
        assert_eq!(
            outcome_of(&Err::<(), _>(e)),
            "error: queue action failed: disconnected"
        );
    }

    #[test]
    fn actor_constructors() {
        assert_eq!(Actor::engine(), Actor::new("engine", "engine"));
        assert_eq!(Actor::admin("root").api, "admin");
        let e = EngineAction::now(&Actor::new(api::EXPAND, "crm1"), "a", "t", "p", "ok");
        assert_eq!((e.api.as_str(), e.principal.as_str()), ("expand", "crm1"));
    }

    #[test]
    fn memory_journal_filters_by_range_and_fields() {
        let j = MemoryActionJournal::default();
        j.record(&entry(20, "expand", "crm1", "agent.pause", "2005"))
            .unwrap();
        j.record(&entry(10, "uscall", "dialer", "originate.start", "job1"))
            .unwrap();
        j.record(&entry(30, "expand", "crm2", "agent.pause", "2006"))
            .unwrap();
        let all = j.list(TimeRange::all(), &ActionFilter::default()).unwrap();
        assert_eq!(
            all.iter().map(|e| e.at.0).collect::<Vec<_>>(),
            vec![10, 20, 30]
        );
        let f = ActionFilter {
            api: Some("expand".into()),
            ..Default::default()
        };
        assert_eq!(j.list(TimeRange::all(), &f).unwrap().len(), 2);
        let f = ActionFilter {
            action: Some("agent.pause".into()),
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(j.list(TimeRange::all(), &f).unwrap()[0].target, "2005");
        let r = TimeRange::new(UnixTime(15), UnixTime(30));
        assert_eq!(j.list(r, &ActionFilter::default()).unwrap().len(), 1);
    }
}
