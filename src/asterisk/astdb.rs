//! What the engine reads from Asterisk's database (AstDB) for the dialplan: the call forwards,
//! family `CF`, key the extension, value the number (set by the phones' `*21<number>` / `*22`
//! or by the operator; the `internal` context dials it instead of the phone). Read with
//! `DBGetTree` ([`read_forwards`]), which the `reporting` class allows. The engine writes
//! nothing into AstDB (its AMI user has no `system` class, which `DBPut` and `DBDel` need).

use std::collections::BTreeMap;

use super::ami::action::DbGetTree;
use super::ami::{AmiClient, AmiError, AmiMessage};

/// The AstDB family of call forwards.
pub const FORWARD_FAMILY: &str = "CF";

/// The `(family, key, value)` entries of `DBGetTreeResponse` events under `family`: Asterisk
/// answers each key as one path (`/CF/1005`, `/CF/sub/1006`), split here at its last `/`.
/// Events of other families or without a value are skipped.
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
            ev("/CF/sub/099123456", "1"),
            ev("/CF/+59899123456", "2"),
            ev("/CFX/x/1", "1"),
        ];
        assert_eq!(
            tree_entries(&events, "CF"),
            vec![
                ("CF/sub".into(), "099123456".into(), "1".into()),
                ("CF".into(), "+59899123456".into(), "2".into()),
            ]
        );
    }
}
