//! `centralita admin ivr ...`: IVR flows (add from their JSON form, list, show, remove), DID
//! routes to flows, and a call's IVR CDR events. Validation is the core's
//! (`Flow::validate`, through `crate::ivr_json`); this file turns arguments into its types and
//! its answers into lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::AdminError;
use crate::core::ivr::{Did, EventFilter, FlowError, FlowId, IvrCallId, IvrStore};
use crate::store::SqliteIvr;

/// `admin ivr <what>`.
#[derive(Debug, Subcommand)]
pub enum IvrAdminCommand {
    /// Adds (or replaces) a flow from its JSON file (`docs/ivr.md`).
    Add {
        /// The flow's JSON file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Lists the flows.
    List,
    /// Prints a flow's JSON form.
    Show {
        /// The flow.
        id: String,
    },
    /// Removes a flow and its routes.
    Remove {
        /// The flow.
        id: String,
    },
    /// Routes calls to a DID to a flow.
    Route {
        /// The DID.
        did: String,
        /// The flow.
        flow: String,
    },
    /// Lists the DID routes.
    Routes,
    /// Prints a call's IVR events, in order.
    Events {
        /// The call (its uniqueid).
        #[arg(long)]
        call: String,
    },
}

fn invalid(e: FlowError) -> AdminError {
    AdminError::Flow(Box::new(e))
}

fn flow_id(s: &str) -> Result<FlowId, AdminError> {
    FlowId::new(s).map_err(invalid)
}

fn when(t: crate::core::UnixTime) -> String {
    jiff::Timestamp::from_second(t.seconds())
        .map_or_else(|_| t.seconds().to_string(), |t| t.to_string())
}

/// Runs `command` against the store at `store_path`, writing its answer to `out`.
pub fn run(
    store_path: &Path,
    command: IvrAdminCommand,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let store = SqliteIvr::open(store_path)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(AdminError::Write);
    match command {
        IvrAdminCommand::Add { file } => {
            let meta = std::fs::metadata(&file).map_err(|source| AdminError::Read {
                what: file.display().to_string(),
                source,
            })?;
            if meta.len() > crate::ivr_json::MAX_JSON_BYTES as u64 {
                return Err(AdminError::Invalid {
                    field: "file",
                    reason: "over 512 KiB",
                });
            }
            let text = std::fs::read_to_string(&file).map_err(|source| AdminError::Read {
                what: file.display().to_string(),
                source,
            })?;
            let flow =
                crate::ivr_json::decode(&text).map_err(|e| AdminError::FlowJson(Box::new(e)))?;
            store.put_flow(&flow)?;
            w(
                out,
                format!(
                    "flow {} saved ({} nodes, version {})",
                    flow.id,
                    flow.nodes.len(),
                    flow.version
                ),
            )
        }
        IvrAdminCommand::List => {
            for f in store.flows()? {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\tv{}\t{} nodes\t{}",
                        f.id,
                        f.kind.as_str(),
                        f.name,
                        f.version,
                        f.nodes.len(),
                        f.description
                    ),
                )?;
            }
            Ok(())
        }
        IvrAdminCommand::Show { id } => {
            let id = flow_id(&id)?;
            let flow = store
                .flow(&id)?
                .ok_or_else(|| AdminError::NotFound(format!("flow {id}")))?;
            w(out, crate::ivr_json::encode(&flow))
        }
        IvrAdminCommand::Remove { id } => {
            let id = flow_id(&id)?;
            if !store.remove_flow(&id)? {
                return Err(AdminError::NotFound(format!("flow {id}")));
            }
            w(out, format!("flow {id} removed"))
        }
        IvrAdminCommand::Route { did, flow } => {
            let did = Did::new(&did).map_err(invalid)?;
            let flow = flow_id(&flow)?;
            if store.flow(&flow)?.is_none() {
                return Err(AdminError::NotFound(format!("flow {flow}")));
            }
            store.set_route(&did, &flow)?;
            w(out, format!("DID {} routed to flow {flow}", did.as_str()))
        }
        IvrAdminCommand::Routes => {
            for (did, flow) in store.routes()? {
                w(out, format!("{}\t{flow}", did.as_str()))?;
            }
            Ok(())
        }
        IvrAdminCommand::Events { call } => {
            let call = IvrCallId::new(&call).map_err(invalid)?;
            let events = store.events(&EventFilter {
                call: Some(call),
                ..EventFilter::default()
            })?;
            for r in events {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        r.seq,
                        when(r.at),
                        r.flow,
                        r.node.as_ref().map_or("-", |n| n.as_str()),
                        r.event,
                        r.digits,
                        r.matched,
                        r.destination,
                        r.status,
                        r.detail
                    ),
                )?;
            }
            Ok(())
        }
    }
}

/// The journal entry of a command that changes something; `None` for listings.
pub fn action(command: &IvrAdminCommand) -> Option<(&'static str, String, String)> {
    Some(match command {
        IvrAdminCommand::Add { file } => ("ivr.add", file.display().to_string(), String::new()),
        IvrAdminCommand::Remove { id } => ("ivr.remove", id.clone(), String::new()),
        IvrAdminCommand::Route { did, flow } => ("ivr.route", did.clone(), format!("flow={flow}")),
        IvrAdminCommand::List
        | IvrAdminCommand::Show { .. }
        | IvrAdminCommand::Routes
        | IvrAdminCommand::Events { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn run_str(path: &Path, cmd: IvrAdminCommand) -> Result<String, AdminError> {
        let mut out = Vec::new();
        run(path, cmd, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn flows_are_added_listed_shown_routed_and_removed() {
        let dir = TempDir::new("admin-ivr");
        let db = dir.path().join("s.db");
        let file = dir.path().join("flow.json");
        std::fs::write(&file, include_str!("../../docs/ivr_flow_example.json")).unwrap();
        let out = run_str(&db, IvrAdminCommand::Add { file: file.clone() }).unwrap();
        assert_eq!(out, "flow vendas saved (8 nodes, version 1)\n");
        let out = run_str(&db, IvrAdminCommand::List).unwrap();
        assert!(
            out.starts_with("vendas\tdtmf\tVendas\tv1\t8 nodes"),
            "{out}"
        );
        let shown = run_str(
            &db,
            IvrAdminCommand::Show {
                id: "vendas".into(),
            },
        )
        .unwrap();
        assert_eq!(
            crate::ivr_json::decode(&shown).unwrap(),
            crate::ivr_json::decode(include_str!("../../docs/ivr_flow_example.json")).unwrap()
        );
        run_str(
            &db,
            IvrAdminCommand::Route {
                did: "26002000".into(),
                flow: "vendas".into(),
            },
        )
        .unwrap();
        assert_eq!(
            run_str(&db, IvrAdminCommand::Routes).unwrap(),
            "26002000\tvendas\n"
        );
        assert!(matches!(
            run_str(
                &db,
                IvrAdminCommand::Route {
                    did: "2600".into(),
                    flow: "nada".into()
                }
            ),
            Err(AdminError::NotFound(_))
        ));
        assert!(run_str(
            &db,
            IvrAdminCommand::Route {
                did: "26;00".into(),
                flow: "vendas".into()
            }
        )
        .is_err());
        std::fs::write(
            &file,
            r#"{"id":"x","name":"X","type":"dtmf","start":"nowhere","nodes":[]}"#,
        )
        .unwrap();
        assert!(matches!(
            run_str(&db, IvrAdminCommand::Add { file }),
            Err(AdminError::FlowJson(_))
        ));
        assert_eq!(
            run_str(
                &db,
                IvrAdminCommand::Remove {
                    id: "vendas".into()
                }
            )
            .unwrap(),
            "flow vendas removed\n"
        );
        assert_eq!(run_str(&db, IvrAdminCommand::Routes).unwrap(), "");
        assert!(run_str(
            &db,
            IvrAdminCommand::Events {
                call: "1700.1".into()
            }
        )
        .unwrap()
        .is_empty());
    }
}
