//! [`SqliteIvr`]: the core's [`IvrStore`] and [`IvrJournal`] ports on the engine's SQLite file
//! (tables `ivr_flow`, `ivr_route`, `ivr_event`). Flows are kept in their JSON form
//! (`crate::ivr_json`) beside the columns listings show; an event already journaled (same call
//! and sequence) is ignored.

use std::path::Path;

use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::core::ivr::{
    Did, EventFilter, Flow, FlowId, IvrCallId, IvrCallInfo, IvrJournal, IvrRecord, IvrStore, NodeId,
};
use crate::core::{PortError, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;

/// The most events one query answers.
pub const MAX_EVENTS: usize = 100_000;

/// IVR flows, routes and events in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteIvr {
    conn: SharedConnection,
}

impl SqliteIvr {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
        })
    }
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn flow_of(json: &str) -> rusqlite::Result<Flow> {
    crate::ivr_json::decode(json).map_err(conversion)
}

impl IvrJournal for SqliteIvr {
    fn record(&self, r: &IvrRecord) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO ivr_event (call, seq, at, flow, node, event, digits, \
                 matched, destination, status, detail, ddr, origem, tronco, idcti) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                r.call.as_str(),
                r.seq,
                r.at.seconds(),
                r.flow.as_str(),
                r.node.as_ref().map(NodeId::as_str),
                r.event,
                r.digits,
                r.matched,
                r.destination,
                r.status,
                r.detail,
                r.info.ddr,
                r.info.origem,
                r.info.tronco,
                r.info.idcti,
            ])?;
            Ok(())
        })
    }
}

impl IvrStore for SqliteIvr {
    fn put_flow(&self, flow: &Flow) -> Result<(), PortError> {
        let json = crate::ivr_json::encode(flow);
        self.conn.query(|conn| {
            conn.execute(
                "INSERT INTO ivr_flow (id, name, description, kind, version, nodes, json, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (id) DO UPDATE SET name = ?2, description = ?3, kind = ?4, \
                 version = ?5, nodes = ?6, json = ?7, updated_at = ?8",
                params![
                    flow.id.as_str(),
                    flow.name,
                    flow.description,
                    flow.kind.as_str(),
                    flow.version,
                    flow.nodes.len() as i64,
                    json,
                    UnixTime::now().seconds(),
                ],
            )?;
            Ok(())
        })
    }

    fn flow(&self, id: &FlowId) -> Result<Option<Flow>, PortError> {
        self.conn.query(|conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT json FROM ivr_flow WHERE id = ?1",
                    [id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            json.as_deref().map(flow_of).transpose()
        })
    }

    fn flows(&self) -> Result<Vec<Flow>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached("SELECT json FROM ivr_flow ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|j| flow_of(&j?)).collect()
        })
    }

    fn remove_flow(&self, id: &FlowId) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM ivr_route WHERE flow = ?1", [id.as_str()])?;
            let n = tx.execute("DELETE FROM ivr_flow WHERE id = ?1", [id.as_str()])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn set_route(&self, did: &Did, flow: &FlowId) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.execute(
                "INSERT INTO ivr_route (did, flow) VALUES (?1, ?2) \
                 ON CONFLICT (did) DO UPDATE SET flow = ?2",
                [did.as_str(), flow.as_str()],
            )?;
            Ok(())
        })
    }

    fn routes(&self) -> Result<Vec<(Did, FlowId)>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached("SELECT did, flow FROM ivr_route ORDER BY did")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|row| {
                let (did, flow) = row?;
                Ok((
                    Did::new(&did).map_err(conversion)?,
                    FlowId::new(flow).map_err(conversion)?,
                ))
            })
            .collect()
        })
    }

    fn events(&self, f: &EventFilter) -> Result<Vec<IvrRecord>, PortError> {
        let mut sql = String::from(
            "SELECT call, seq, at, flow, node, event, digits, matched, destination, status, \
             detail, ddr, origem, tronco, idcti FROM ivr_event WHERE 1",
        );
        let mut args: Vec<Sql> = Vec::new();
        if let Some(c) = &f.call {
            sql.push_str(" AND call = ?");
            args.push(Sql::Text(c.as_str().to_owned()));
        }
        if let Some(fl) = &f.flow {
            sql.push_str(" AND flow = ?");
            args.push(Sql::Text(fl.as_str().to_owned()));
        }
        if let Some(r) = &f.range {
            sql.push_str(" AND at >= ? AND at < ?");
            args.push(Sql::Integer(r.from.seconds()));
            args.push(Sql::Integer(r.to.seconds()));
        }
        sql.push_str(" ORDER BY at, call, seq LIMIT ?");
        let limit = if f.limit == 0 {
            MAX_EVENTS
        } else {
            f.limit.min(MAX_EVENTS)
        };
        args.push(Sql::Integer(limit as i64));
        self.conn.query(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                let text = |i: usize| r.get::<_, String>(i);
                Ok(IvrRecord {
                    call: IvrCallId::new(&text(0)?).map_err(conversion)?,
                    seq: r.get(1)?,
                    at: UnixTime(r.get(2)?),
                    flow: FlowId::new(text(3)?).map_err(conversion)?,
                    node: r
                        .get::<_, Option<String>>(4)?
                        .map(NodeId::new)
                        .transpose()
                        .map_err(conversion)?,
                    event: text(5)?,
                    digits: text(6)?,
                    matched: text(7)?,
                    destination: text(8)?,
                    status: text(9)?,
                    detail: text(10)?,
                    info: IvrCallInfo {
                        ddr: text(11)?,
                        origem: text(12)?,
                        tronco: text(13)?,
                        idcti: text(14)?,
                    },
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::TimeRange;
    use crate::test_support::TempDir;

    fn record(call: &str, seq: u32, at: i64, event: &str) -> IvrRecord {
        let info = IvrCallInfo {
            ddr: "26002000".into(),
            ..IvrCallInfo::default()
        };
        IvrRecord {
            node: Some(NodeId::new("menu").unwrap()),
            event: event.into(),
            ..IvrRecord::new(
                IvrCallId::new(call).unwrap(),
                seq,
                UnixTime(at),
                FlowId::new("vendas").unwrap(),
                info,
            )
        }
    }

    #[test]
    fn flows_routes_and_events_survive_reopening_and_replays_write_once() {
        let dir = TempDir::new("ivr-store");
        let path = dir.path().join("s.db");
        let flow =
            crate::ivr_json::decode(include_str!("../../docs/ivr_flow_example.json")).unwrap();
        {
            let s = SqliteIvr::open(&path).unwrap();
            s.put_flow(&flow).unwrap();
            s.set_route(&Did::new("26002000").unwrap(), &flow.id)
                .unwrap();
            for (seq, ev) in [(1, "entrada"), (2, "digitos"), (3, "fim")] {
                s.record(&record("1700.1", seq, 100 + i64::from(seq), ev))
                    .unwrap();
            }
            // The same events replayed after a restart: nothing doubled.
            for (seq, ev) in [(1, "entrada"), (2, "digitos"), (3, "fim")] {
                s.record(&record("1700.1", seq, 100 + i64::from(seq), ev))
                    .unwrap();
            }
            s.record(&record("1700.2", 1, 500, "entrada")).unwrap();
            let mut unknown = flow.clone();
            unknown.id = FlowId::new("nada").unwrap();
            assert!(s.set_route(&Did::new("999").unwrap(), &unknown.id).is_err());
        }
        let s = SqliteIvr::open(&path).unwrap();
        assert_eq!(s.flow(&flow.id).unwrap().unwrap(), flow);
        assert_eq!(s.flows().unwrap().len(), 1);
        assert_eq!(
            s.routes().unwrap(),
            vec![(Did::new("26002000").unwrap(), flow.id.clone())]
        );
        let one = s
            .events(&EventFilter {
                call: Some(IvrCallId::new("1700.1").unwrap()),
                ..EventFilter::default()
            })
            .unwrap();
        assert_eq!(
            one.iter()
                .map(|r| (r.seq, r.event.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "entrada"), (2, "digitos"), (3, "fim")]
        );
        assert_eq!(one[0].info.ddr, "26002000");
        let window = s
            .events(&EventFilter {
                range: Some(TimeRange::new(UnixTime(400), UnixTime(600))),
                ..EventFilter::default()
            })
            .unwrap();
        assert_eq!(window.len(), 1);
        assert_eq!(window[0].call.as_str(), "1700.2");
        assert!(s.remove_flow(&flow.id).unwrap());
        assert!(!s.remove_flow(&flow.id).unwrap());
        assert!(s.routes().unwrap().is_empty());
        assert!(s.flow(&flow.id).unwrap().is_none());
    }
}
