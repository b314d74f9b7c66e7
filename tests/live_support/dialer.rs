//! Shared by the dialer's live tests: the outbound credential the dialer places its calls
//! with, zones open or closed now, the campaign's queue members removed at the end, and the
//! campaign created and switched through the admin CLI.

use std::path::Path;

use super::*;

/// The dialer's outbound credential: the carrier's test numbers of 7 to 14 digits.
pub const EXTRA: &str = r#"
[[outbound.credential]]
principal = "dialer"
api = "dialer"
allow = ["_NXXXXXX", "_NXXXXXXX", "_NXXXXXXXX", "_555XXXXXXX", "_555XXXXXXXX", "_555XXXXXXXXX", "_555XXXXXXXXXX"]
calls_per_minute = 1000
max_concurrent = 40
"#;

/// The queue the lab keeps for the dialer's campaigns.
pub const QUEUE: &str = "q_campanas";

/// Its agents' phones.
pub const PHONES: [&str; 6] = ["1001", "1002", "1003", "1004", "1005", "1006"];

/// A zone whose local time now is well inside 09:00-20:00 (`open`) or outside 08:00-21:00.
pub fn zone_where(open: bool) -> &'static str {
    const ZONES: [&str; 12] = [
        "America/Montevideo",
        "Europe/Madrid",
        "Asia/Tokyo",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Pacific/Honolulu",
        "Australia/Sydney",
        "America/New_York",
        "Asia/Dubai",
        "Pacific/Auckland",
        "Europe/London",
        "America/Mexico_City",
    ];
    let now = jiff::Timestamp::now();
    ZONES
        .into_iter()
        .find(|z| {
            let h = now.in_tz(z).unwrap().hour();
            // One hour of margin on each side: the campaign may run past a boundary.
            if open {
                (10..19).contains(&h)
            } else {
                !(7..22).contains(&h)
            }
        })
        .expect("some zone is open and some closed at any instant")
}

/// Removes the members of [`QUEUE`], also when the test fails.
pub struct Members;

impl Drop for Members {
    fn drop(&mut self) {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                set_queue_members(&client, QUEUE, &[]).await;
            })
        })
        .join()
        .ok();
    }
}

/// Puts the phones in [`QUEUE`] and waits until none is on a call; the guard removes them.
pub async fn agents_in_queue() -> Members {
    let ami = connect().await;
    let ifaces: Vec<String> = PHONES.iter().map(|p| format!("PJSIP/{p}")).collect();
    set_queue_members(&ami, QUEUE, &ifaces).await;
    super::expand::phones_idle(&ami, &PHONES).await;
    ami.logoff().await.ok();
    Members
}

/// Creates a campaign on [`QUEUE`] in `mode`, every day within the default 08:00-21:00 floor,
/// ring timeout 15 s, with the `more` options of `centralita admin dialer campaign create`.
pub fn create_dialer_campaign(engine: &Engine, name: &str, mode: &str, more: &[&str]) {
    let mut args = vec![
        "dialer",
        "campaign",
        "create",
        name,
        "--queue",
        QUEUE,
        "--mode",
        mode,
        "--days",
        "all",
        "--hours",
        "08:00-21:00",
        "--ring-timeout",
        "15",
    ];
    args.extend_from_slice(more);
    engine.admin(&args, "");
}

/// Creates a predictive campaign with AMD on [`QUEUE`] (its false-positive share
/// [`AMD_FALSE_POSITIVES`]), every day within the default 08:00-21:00 floor, ring timeout 15 s,
/// with `retry` rules; national numbers (scheduled calls' contacts among them) in a zone open
/// now, whatever the hour the test runs at.
pub fn create_predictive_campaign(engine: &Engine, name: &str, retry: &str) {
    create_dialer_campaign(
        engine,
        name,
        "predictive",
        &[
            "--zone",
            zone_where(true),
            "--amd",
            "on",
            "--amd-false-positives",
            AMD_FALSE_POSITIVES,
            "--retry",
            retry,
        ],
    );
}

/// The share of AMD's machine verdicts the live campaigns estimate to be people: what a tuned
/// AMD reaches (the lab's machines are recorded greetings, AMD tells them apart).
pub const AMD_FALSE_POSITIVES: &str = "2%";

/// Sets the campaign's state (`Active`, `Finalized`, ...).
pub fn set_campaign_state(engine: &Engine, name: &str, state: &str) {
    engine.admin(
        &["dialer", "campaign", "update", name, "--state", state],
        "",
    );
}

/// Writes `text` to `dir/name`; its path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}
