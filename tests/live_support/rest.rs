//! Shared by the live tests of the dialer's HTTP facades (eXpand REST, uContact's `Dialers/*`):
//! the engine started and healthy, a dialer campaign created through the admin CLI, a store
//! query's rows as tuples.

use std::path::Path;
use std::time::Duration;

use super::{wait_health, Engine};

/// [`Engine::start_with`], once its health answers 200 (within 30 s).
pub fn healthy_engine(dir: &Path, run: &str, extra: &str) -> Engine {
    let engine = Engine::start_with(dir, run, extra);
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the engine healthy",
        |code, _| code == "200",
    );
    engine
}

/// `centralita admin dialer campaign create <name>` on queue `q_campanas`, every day,
/// 08:00-21:00.
pub fn create_campaign(engine: &Engine, name: &str) {
    engine.admin(
        &[
            "dialer",
            "campaign",
            "create",
            name,
            "--queue",
            "q_campanas",
            "--days",
            "all",
            "--hours",
            "08:00-21:00",
        ],
        "",
    );
}

/// The rows `sql` selects, each as a tuple of its columns.
pub fn query_rows<T>(db: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Vec<T>
where
    T: for<'a> TryFrom<&'a rusqlite::Row<'a>, Error = rusqlite::Error>,
{
    let mut st = db.prepare(sql).unwrap();
    st.query_map(params, |r| T::try_from(r))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
