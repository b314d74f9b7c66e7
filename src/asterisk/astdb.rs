//! What the engine keeps in, and reads from, Asterisk's database (AstDB) for the dialplan:
//!
//! - call forwards: family `CF`, key the extension, value the number (set by the phones'
//!   `*21<number>` / `*22` or by the operator; the `internal` context dials it instead of the
//!   phone). Read with `DBGetTree` ([`read_forwards`]).
//! - the inbound blacklist: families `blacklist/<queue>` and `blacklist/all`, key the number,
//!   value `1` (the `to-queue` context refuses those callers). The engine owns every key under
//!   `blacklist`: [`spawn_blacklist_mirror`] keeps them equal to
//!   [`inbound_mirror`](crate::core::campaigns::inbound_mirror) of the stored blacklist on every
//!   AMI (re)connect, on every blacklist change and every [`MIRROR_PERIOD`] (expired entries
//!   leave at the first sync of the next day).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::core::campaigns::{inbound_mirror, Campaign, CampaignStore, Day};
use crate::core::UnixTime;

use super::ami::action::{DbDel, DbGetTree, DbPut};
use super::ami::{AmiClient, AmiError, AmiMessage, ConnectionState};

/// The AstDB family of call forwards.
pub const FORWARD_FAMILY: &str = "CF";

/// The AstDB family (tree) the inbound blacklist is mirrored under.
pub const BLACKLIST_FAMILY: &str = "blacklist";

/// How often the mirror is compared with the store even without a change.
pub const MIRROR_PERIOD: Duration = Duration::from_secs(60);

/// The `(family, key, value)` entries of `DBGetTreeResponse` events under `family`: Asterisk
/// answers each key as one path (`/CF/1005`, `/blacklist/q_cobranza/099123456`), split here at
/// its last `/`. Events of other families or without a value are skipped.
pub fn tree_entries(events: &[AmiMessage], family: &str) -> Vec<(String, String, String)> {
    let prefix = format!("/{family}");
    events
        .iter()
        .filter(|e| e.event_name() == Some("DBGetTreeResponse"))
        .filter_map(|e| {
            let path = e.get("Key")?;
            let rest = path.strip_prefix(&prefix)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let (fam, key) = path.strip_prefix('/')?.rsplit_once('/')?;
            (!key.is_empty()).then(|| {
                (
                    fam.to_owned(),
                    key.to_owned(),
                    e.get("Val").unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

/// Reads every entry under `family`.
async fn read_tree(
    client: &AmiClient,
    family: &str,
) -> Result<Vec<(String, String, String)>, AmiError> {
    let action = DbGetTree::new(family, None)?;
    let (_, events) = client.send_list(&action).await?;
    Ok(tree_entries(&events, family))
}

/// The call forwards: extension → number (only numeric extensions with a non-empty value).
pub fn forwards_from(entries: &[(String, String, String)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|(fam, key, val)| {
            fam == FORWARD_FAMILY && !val.is_empty() && key.bytes().all(|b| b.is_ascii_digit())
        })
        .map(|(_, key, val)| (key.clone(), val.clone()))
        .collect()
}

/// Reads the call forwards from AstDB.
pub async fn read_forwards(client: &AmiClient) -> Result<BTreeMap<String, String>, AmiError> {
    Ok(forwards_from(&read_tree(client, FORWARD_FAMILY).await?))
}

/// Today in `tz`, as a blacklist [`Day`].
fn today(tz: &jiff::tz::TimeZone) -> Option<Day> {
    let ts = jiff::Timestamp::from_second(UnixTime::now().seconds()).ok()?;
    Day::parse(&ts.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string())
}

/// What the mirror sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MirrorSync {
    /// Keys written.
    pub added: usize,
    /// Keys removed.
    pub removed: usize,
}

/// Makes the `blacklist` tree equal to `want`: puts the missing keys, deletes the others. Keys
/// are put before the stale ones are deleted, so a listed caller is never let through.
async fn sync_mirror(
    client: &AmiClient,
    want: &BTreeSet<(String, String)>,
) -> Result<MirrorSync, AmiError> {
    let have: BTreeSet<(String, String)> = read_tree(client, BLACKLIST_FAMILY)
        .await?
        .into_iter()
        .map(|(fam, key, _)| (fam, key))
        .collect();
    let mut done = MirrorSync::default();
    for (fam, key) in want.difference(&have) {
        match DbPut::new(fam, key, "1") {
            Ok(put) => {
                client.send(&put).await?;
                done.added += 1;
            }
            Err(e) => warn!(family = %fam, error = %e, "blacklist number not mirrored"),
        }
    }
    for (fam, key) in have.difference(want) {
        client.send(&DbDel::new(fam, key)?).await?;
        done.removed += 1;
    }
    Ok(done)
}

/// Keeps AstDB's `blacklist` tree equal to the stored inbound blacklist: syncs on every new AMI
/// connection generation, whenever `changes` is notified and every [`MIRROR_PERIOD`].
pub fn spawn_blacklist_mirror(
    client: AmiClient,
    store: Arc<dyn CampaignStore>,
    campaigns: Vec<Campaign>,
    tz: jiff::tz::TimeZone,
    changes: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut state = client.connection_events();
        let mut tick = tokio::time::interval(MIRROR_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut synced: Option<u64> = None;
        loop {
            let connected = match *state.borrow_and_update() {
                ConnectionState::Connected { generation } => Some(generation),
                ConnectionState::Closed => break,
                _ => None,
            };
            if let Some(generation) = connected {
                let store = store.clone();
                let entries = tokio::task::spawn_blocking(move || store.blacklist_inbound()).await;
                let want = match (entries, today(&tz)) {
                    (Ok(Ok(entries)), Some(day)) => {
                        Some(inbound_mirror(&entries, &campaigns, &day))
                    }
                    (Ok(Err(e)), _) => {
                        warn!(error = %e, "blacklist not readable; mirror kept");
                        None
                    }
                    _ => None,
                };
                if let Some(want) = want {
                    match sync_mirror(&client, &want).await {
                        Ok(done) => {
                            if synced != Some(generation) || done != MirrorSync::default() {
                                info!(
                                    numbers = want.len(),
                                    added = done.added,
                                    removed = done.removed,
                                    "inbound blacklist mirrored into AstDB"
                                );
                            }
                            synced = Some(generation);
                        }
                        Err(e) => warn!(error = %e, "inbound blacklist mirror failed"),
                    }
                }
            }
            tokio::select! {
                changed = state.changed() => if changed.is_err() { break },
                _ = changes.notified() => debug!("blacklist changed"),
                _ = tick.tick() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(key: &str, val: &str) -> AmiMessage {
        let mut m = AmiMessage::new();
        m.push("Event", "DBGetTreeResponse");
        m.push("Key", key);
        m.push("Val", val);
        m
    }

    #[test]
    fn tree_paths_split_into_family_and_key() {
        let events = vec![
            ev("/CF/1005", "5551010"),
            ev("/CF/1100", "099123456"),
            ev("/CFX/1006", "1"),
            ev("/CF/1007", ""),
            ev("/CF/abc", "1"),
        ];
        let got = forwards_from(&tree_entries(&events, "CF"));
        let want: BTreeMap<String, String> = [("1005", "5551010"), ("1100", "099123456")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);

        let events = vec![
            ev("/blacklist/q_cobranza/099123456", "1"),
            ev("/blacklist/all/+59899123456", "1"),
            ev("/blacklisted/x/1", "1"),
        ];
        assert_eq!(
            tree_entries(&events, "blacklist"),
            vec![
                (
                    "blacklist/q_cobranza".into(),
                    "099123456".into(),
                    "1".into()
                ),
                ("blacklist/all".into(), "+59899123456".into(), "1".into()),
            ]
        );
    }
}
