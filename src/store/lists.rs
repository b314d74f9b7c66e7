//! [`SqliteLists`]: the core's [`ListStore`] port on the engine's SQLite file (tables
//! `key_list` and `key_list_element`, the elements keyed by `(list_id, key)` so that a lookup
//! is one search of the primary key).

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::core::lists::{
    KeyList, ListElement, ListId, ListKey, ListName, ListRef, ListStore, ListValue, Written,
};
use crate::core::{PortError, UnixTime};

use super::connection::SharedConnection;
use super::error::{bad, port, StoreError};

/// The lists in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteLists {
    conn: SharedConnection,
}

impl SqliteLists {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
        })
    }
}

const LIST_COLUMNS: &str = "SELECT l.id, l.name, l.created_at, \
     (SELECT count(*) FROM key_list_element e WHERE e.list_id = l.id) FROM key_list l";

fn list_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyList> {
    let name: String = r.get(1)?;
    Ok(KeyList {
        id: ListId(r.get(0)?),
        name: ListName::parse(&name).map_err(|_| bad("list name", &name))?,
        created_at: UnixTime(r.get(2)?),
        elements: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
    })
}

fn element_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListElement> {
    let key: String = r.get(0)?;
    let value: String = r.get(1)?;
    Ok(ListElement {
        key: ListKey::parse(&key).map_err(|_| bad("list key", &key))?,
        value: ListValue::parse(&value).map_err(|_| bad("list value", &value))?,
    })
}

fn changed(n: usize) -> Written {
    if n == 0 {
        Written::NoKey
    } else {
        Written::Done
    }
}

impl ListStore for SqliteLists {
    fn lists(&self) -> Result<Vec<KeyList>, PortError> {
        let conn = self.conn.lock();
        let mut q = conn
            .prepare_cached(&format!("{LIST_COLUMNS} ORDER BY l.name"))
            .map_err(port)?;
        let rows = q.query_map([], list_row).map_err(port)?;
        rows.collect::<Result<_, _>>().map_err(port)
    }

    fn list(&self, which: &ListRef) -> Result<Option<KeyList>, PortError> {
        let conn = self.conn.lock();
        match which {
            ListRef::Id(id) => conn
                .query_row(&format!("{LIST_COLUMNS} WHERE l.id = ?1"), [id.0], list_row)
                .optional(),
            ListRef::Name(name) => conn
                .query_row(
                    &format!("{LIST_COLUMNS} WHERE l.name = ?1"),
                    [name.as_str()],
                    list_row,
                )
                .optional(),
        }
        .map_err(port)
    }

    fn create_list(&self, name: &ListName, now: UnixTime) -> Result<Written, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "INSERT INTO key_list (name, created_at) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO NOTHING",
                params![name.as_str(), now.seconds()],
            )
            .map_err(port)?;
        Ok(if n == 0 {
            Written::Exists
        } else {
            Written::Done
        })
    }

    fn remove_list(&self, name: &ListName) -> Result<Written, PortError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(port)?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM key_list WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(port)?;
        let Some(id) = id else {
            return Ok(Written::NoList);
        };
        tx.execute("DELETE FROM key_list_element WHERE list_id = ?1", [id])
            .map_err(port)?;
        tx.execute("DELETE FROM key_list WHERE id = ?1", [id])
            .map_err(port)?;
        tx.commit().map_err(port)?;
        Ok(Written::Done)
    }

    fn elements(
        &self,
        list: ListId,
        start: u64,
        limit: u32,
    ) -> Result<Vec<ListElement>, PortError> {
        let conn = self.conn.lock();
        let mut q = conn
            .prepare_cached(
                "SELECT key, value FROM key_list_element WHERE list_id = ?1 \
                 ORDER BY key LIMIT ?2 OFFSET ?3",
            )
            .map_err(port)?;
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        let rows = q
            .query_map(params![list.0, limit, start], element_row)
            .map_err(port)?;
        rows.collect::<Result<_, _>>().map_err(port)
    }

    fn element(&self, list: ListId, key: &ListKey) -> Result<Option<ListElement>, PortError> {
        self.conn
            .lock()
            .query_row(
                "SELECT key, value FROM key_list_element WHERE list_id = ?1 AND key = ?2",
                params![list.0, key.as_str()],
                element_row,
            )
            .optional()
            .map_err(port)
    }

    fn insert(&self, list: ListId, e: &ListElement) -> Result<Written, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "INSERT INTO key_list_element (list_id, key, value) \
                 SELECT id, ?2, ?3 FROM key_list WHERE id = ?1 \
                 ON CONFLICT (list_id, key) DO NOTHING",
                params![list.0, e.key.as_str(), e.value.as_str()],
            )
            .map_err(port)?;
        if n == 1 {
            return Ok(Written::Done);
        }
        Ok(match self.list(&ListRef::Id(list))? {
            None => Written::NoList,
            Some(_) => Written::Exists,
        })
    }

    fn update(&self, list: ListId, e: &ListElement) -> Result<Written, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "UPDATE key_list_element SET value = ?3 WHERE list_id = ?1 AND key = ?2",
                params![list.0, e.key.as_str(), e.value.as_str()],
            )
            .map_err(port)?;
        Ok(changed(n))
    }

    fn delete(&self, list: ListId, key: &ListKey) -> Result<Written, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "DELETE FROM key_list_element WHERE list_id = ?1 AND key = ?2",
                params![list.0, key.as_str()],
            )
            .map_err(port)?;
        Ok(changed(n))
    }

    fn upsert_batch(&self, list: ListId, batch: &[ListElement]) -> Result<u64, PortError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(port)?;
        let mut new = 0;
        {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM key_list_element WHERE list_id = ?1 AND key = ?2")
                .map_err(port)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO key_list_element (list_id, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (list_id, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(port)?;
            for e in batch {
                let there = exists
                    .exists(params![list.0, e.key.as_str()])
                    .map_err(port)?;
                put.execute(params![list.0, e.key.as_str(), e.value.as_str()])
                    .map_err(port)?;
                if !there {
                    new += 1;
                }
            }
        }
        tx.commit().map_err(port)?;
        Ok(new)
    }

    fn lookup(&self, name: &ListName, key: &ListKey) -> Result<Option<ListValue>, PortError> {
        let value: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT e.value FROM key_list l JOIN key_list_element e \
                 ON e.list_id = l.id AND e.key = ?2 WHERE l.name = ?1",
                params![name.as_str(), key.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(port)?;
        value
            .map(|v| ListValue::parse(&v).map_err(|e| -> PortError { Box::new(e) }))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn el(k: &str, v: &str) -> ListElement {
        ListElement {
            key: ListKey::parse(k).unwrap(),
            value: ListValue::parse(v).unwrap(),
        }
    }

    #[test]
    fn lists_and_elements_round_trip_and_keys_are_unique() {
        let dir = TempDir::new("lists");
        let s = SqliteLists::open(&dir.path().join("store.db")).unwrap();
        let name = ListName::parse("cartera").unwrap();
        assert_eq!(s.create_list(&name, UnixTime(5)).unwrap(), Written::Done);
        assert_eq!(s.create_list(&name, UnixTime(6)).unwrap(), Written::Exists);
        let list = s.list(&ListRef::Name(name.clone())).unwrap().unwrap();
        assert_eq!(s.list(&ListRef::Id(list.id)).unwrap().unwrap().name, name);
        assert_eq!(
            s.insert(list.id, &el("27126666", "112")).unwrap(),
            Written::Done
        );
        assert_eq!(
            s.insert(list.id, &el("27126666", "x")).unwrap(),
            Written::Exists
        );
        assert_eq!(
            s.insert(ListId(999), &el("1", "x")).unwrap(),
            Written::NoList
        );
        assert_eq!(
            s.update(list.id, &el("27126666", "nuevo")).unwrap(),
            Written::Done
        );
        assert_eq!(s.update(list.id, &el("1", "x")).unwrap(), Written::NoKey);
        let key = ListKey::parse("27126666").unwrap();
        assert_eq!(s.lookup(&name, &key).unwrap().unwrap().as_str(), "nuevo");
        assert_eq!(
            s.upsert_batch(list.id, &[el("27126666", "a"), el("2", "b")])
                .unwrap(),
            1
        );
        assert_eq!(s.lists().unwrap()[0].elements, 2);
        assert_eq!(
            s.elements(list.id, 1, 10).unwrap(),
            vec![el("27126666", "a")]
        );
        assert_eq!(s.delete(list.id, &key).unwrap(), Written::Done);
        assert_eq!(s.delete(list.id, &key).unwrap(), Written::NoKey);
        assert_eq!(s.remove_list(&name).unwrap(), Written::Done);
        assert!(s
            .lookup(&name, &ListKey::parse("2").unwrap())
            .unwrap()
            .is_none());
        assert_eq!(s.remove_list(&name).unwrap(), Written::NoList);
    }

    #[test]
    fn a_lookup_is_one_search_of_the_primary_key() {
        let dir = TempDir::new("lists-plan");
        let s = SqliteLists::open(&dir.path().join("store.db")).unwrap();
        let conn = s.conn.lock();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT e.value FROM key_list l JOIN key_list_element e \
                 ON e.list_id = l.id AND e.key = ?2 WHERE l.name = ?1",
            )
            .unwrap()
            .query_map(params!["vip", "1"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().all(|p| p.starts_with("SEARCH")), "{plan:?}");
    }
}
