//! `centralita admin list ...`: the key/value lists the eXpand REST API serves
//! (`expandweb3/api/external/lists/simple`), which that API reads and fills but does not
//! create: `add NAME`, `remove NAME`, `show` (every list and its size), `import NAME FILE`
//! (a CSV of `key,value` lines, streamed in batches of [`IMPORT_BATCH`], an existing key's value
//! replaced; rejected lines reported with their number, nothing else of the file lost).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::AdminError;
use crate::core::lists::{import_line, ListName, ListRef, ListStore, Written};
use crate::core::UnixTime;
use crate::store::SqliteLists;

/// Elements written per transaction by an import.
pub const IMPORT_BATCH: usize = 1000;

/// Most rejected lines an import reports one by one.
const SHOWN_REJECTS: usize = 20;

/// `admin list ...`.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Creates an empty list.
    Add {
        /// Its name: 1 to 64 letters, digits, `_`, `.`, `-` (not only digits).
        name: String,
    },
    /// Removes a list and its elements.
    Remove {
        /// Its name.
        name: String,
    },
    /// Shows every list: id, name, number of elements.
    Show,
    /// Adds the `key,value` lines of a CSV file to a list (an existing key's value replaced).
    Import {
        /// The list.
        name: String,
        /// The CSV file: one `key,value` (or `key;value`) a line, the value optionally quoted.
        file: PathBuf,
    },
}

fn list_name(s: &str) -> Result<ListName, AdminError> {
    ListName::parse(s).map_err(|_| AdminError::Invalid {
        field: "list name",
        reason: "1 to 64 letters, digits, '_', '.', '-', not only digits",
    })
}

/// Runs `command` against the store at `store_path`.
pub fn run(store_path: &Path, command: ListCommand, out: &mut dyn Write) -> Result<(), AdminError> {
    let store = SqliteLists::open(store_path)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(AdminError::Write);
    match command {
        ListCommand::Add { name } => {
            let name = list_name(&name)?;
            match store.create_list(&name, UnixTime::now())? {
                Written::Done => w(out, format!("list {name} created")),
                _ => Err(AdminError::Invalid {
                    field: "list name",
                    reason: "a list with that name exists",
                }),
            }
        }
        ListCommand::Remove { name } => {
            let name = list_name(&name)?;
            match store.remove_list(&name)? {
                Written::Done => w(out, format!("list {name} removed")),
                _ => Err(AdminError::NotFound(format!("list {name}"))),
            }
        }
        ListCommand::Show => {
            w(out, "id\tname\telements".into())?;
            for l in store.lists()? {
                w(out, format!("{}\t{}\t{}", l.id.0, l.name, l.elements))?;
            }
            Ok(())
        }
        ListCommand::Import { name, file } => {
            let name = list_name(&name)?;
            let list = store
                .list(&ListRef::Name(name.clone()))?
                .ok_or_else(|| AdminError::NotFound(format!("list {name}")))?;
            let read = |source| AdminError::Read {
                what: file.display().to_string(),
                source,
            };
            let reader = BufReader::new(std::fs::File::open(&file).map_err(read)?);
            let (mut batch, mut new, mut total, mut rejected) = (Vec::new(), 0, 0u64, 0u64);
            for (n, line) in reader.lines().enumerate() {
                let line = line.map_err(read)?;
                match import_line(&line) {
                    None => {}
                    Some(Ok(e)) => {
                        batch.push(e);
                        total += 1;
                    }
                    Some(Err(e)) => {
                        rejected += 1;
                        if rejected <= SHOWN_REJECTS as u64 {
                            w(out, format!("line {}: {e}", n + 1))?;
                        }
                    }
                }
                if batch.len() >= IMPORT_BATCH {
                    new += store.upsert_batch(list.id, &batch)?;
                    batch.clear();
                }
            }
            new += store.upsert_batch(list.id, &batch)?;
            w(
                out,
                format!(
                    "list {name}: {total} elements imported ({new} new, {} replaced), {rejected} lines rejected",
                    total - new
                ),
            )
        }
    }
}

/// The journal entry (action, target, params) of a list command that changes something.
pub fn action(command: &ListCommand) -> Option<(&'static str, String, String)> {
    Some(match command {
        ListCommand::Add { name } => ("list.add", name.clone(), String::new()),
        ListCommand::Remove { name } => ("list.remove", name.clone(), String::new()),
        ListCommand::Import { name, file } => (
            "list.import",
            name.clone(),
            format!("file={}", file.display()),
        ),
        ListCommand::Show => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::lists::{ListKey, ListValue};
    use crate::test_support::TempDir;

    fn run_ok(path: &Path, c: ListCommand) -> String {
        let mut out = Vec::new();
        run(path, c, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn add_import_show_remove() {
        let dir = TempDir::new("admin-lists");
        let db = dir.path().join("store.db");
        run_ok(&db, ListCommand::Add { name: "vip".into() });
        assert!(run(
            &db,
            ListCommand::Add { name: "vip".into() },
            &mut Vec::new()
        )
        .is_err());
        let csv = dir.path().join("vip.csv");
        let mut text = String::from("27126666,112\n5679;\"Un, elemento\"\n\nmal clave,1\n");
        for i in 0..2500 {
            text.push_str(&format!("{i},v{i}\n"));
        }
        text.push_str("27126666,nuevo\n");
        std::fs::write(&csv, text).unwrap();
        let said = run_ok(
            &db,
            ListCommand::Import {
                name: "vip".into(),
                file: csv,
            },
        );
        assert!(said.contains("line 4:"), "{said}");
        assert!(
            said.contains("2503 elements imported (2502 new, 1 replaced), 1 lines rejected"),
            "{said}"
        );
        let store = SqliteLists::open(&db).unwrap();
        let name = ListName::parse("vip").unwrap();
        assert_eq!(
            store
                .lookup(&name, &ListKey::parse("27126666").unwrap())
                .unwrap(),
            Some(ListValue::parse("nuevo").unwrap())
        );
        assert!(run_ok(&db, ListCommand::Show).contains("\tvip\t2502"));
        run_ok(&db, ListCommand::Remove { name: "vip".into() });
        assert!(store.lists().unwrap().is_empty());
    }
}
