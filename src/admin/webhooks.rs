//! `admin webhooks ...`: the outbox per endpoint (pending, delivered, dead, the oldest pending
//! one's last failure) and sending dead deliveries again.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use super::AdminError;
use crate::core::webhooks::WebhookStore;
use crate::core::UnixTime;
use crate::store::SqliteWebhooks;

/// `admin webhooks ...`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Pending, delivered and dead deliveries per endpoint.
    Status,
    /// Makes dead deliveries pending again (of one endpoint, or every one).
    Retry {
        /// The endpoint's name; every endpoint without it.
        #[arg(long)]
        endpoint: Option<String>,
    },
}

/// Runs `command` against the store at `store_path`, answers on `out`.
pub fn run(
    store_path: &Path,
    command: WebhooksCommand,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let store = SqliteWebhooks::open(store_path)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(AdminError::Write);
    match command {
        WebhooksCommand::Status => {
            w(out, "endpoint\tpending\tdelivered\tdead\tlast_error".into())?;
            for s in store.status()? {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        s.endpoint,
                        s.pending,
                        s.delivered,
                        s.dead,
                        s.last_error.as_deref().unwrap_or("-")
                    ),
                )?;
            }
            Ok(())
        }
        WebhooksCommand::Retry { endpoint } => {
            let n = store.retry_dead(endpoint.as_deref(), UnixTime::now())?;
            w(out, format!("{n} dead deliveries pending again"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_retry_answer_on_an_empty_outbox() {
        let dir =
            std::env::temp_dir().join(format!("centralita-admin-webhooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("c.db");
        let mut out = Vec::new();
        run(&db, WebhooksCommand::Status, &mut out).unwrap();
        run(&db, WebhooksCommand::Retry { endpoint: None }, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "endpoint\tpending\tdelivered\tdead\tlast_error\n0 dead deliveries pending again\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
