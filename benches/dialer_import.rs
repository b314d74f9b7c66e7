//! Importing an uploadbase file of `DIALER_IMPORT_CONTACTS` (100 000) lines into a campaign
//! through the real SQLite store (`SqliteDialer`, a temporary file under `target/bench/`):
//! `core::dialer::import::import_base` (streamed, batches of `import::BATCH` in one transaction
//! each), contacts per second, against a baseline in the same run: the same lines parsed the
//! same way and written one transaction per contact, as a line-at-a-time importer does. A
//! second import of the same file is timed too (it adds nothing: every line a duplicate).

mod support;

use std::time::Instant;

use centralita::core::dialer::import::parse_line;
use centralita::core::dialer::DialerStore;
use centralita::core::UnixTime;
use centralita::store::SqliteDialer;
use support::dialer::{base, campaign, timed_import};

fn main() {
    let total = support::env_num("DIALER_IMPORT_CONTACTS", 100_000);
    let baseline_n = support::env_num("DIALER_IMPORT_BASELINE", 10_000).min(total);
    let dir = support::target_dir()
        .join("bench")
        .join(format!("dialer_import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let store = SqliteDialer::open(&dir.join("engine.db")).expect("store");
    let now = UnixTime(1_796_223_600);

    let (id, c) = campaign(&store, "importada");
    let file = base(total, "importada");
    let timed_import = || timed_import(&store, (id, &c), &file, now);
    let (report, import_s) = timed_import();
    assert_eq!(report.imported, total, "every line imported: {report:?}");
    let rate = total as f64 / import_s;
    println!("import: {total} contacts in {import_s:.2} s ({rate:.0}/s)");
    let (again, again_s) = timed_import();
    assert_eq!((again.imported, again.duplicates), (0, total));
    println!(
        "second import: {total} duplicates in {again_s:.2} s ({:.0} lines/s)",
        total as f64 / again_s
    );

    // Baseline: the same parse, one transaction per contact.
    let (bid, bc) = campaign(&store, "linea");
    let lines = base(baseline_n, "linea");
    let t = Instant::now();
    let mut n = 0u64;
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let text = std::str::from_utf8(line).expect("utf-8");
        let contact = parse_line(text, &bc, &bc.default_zone).expect("a contact");
        store
            .insert_contacts(bid, std::slice::from_ref(&contact), now)
            .expect("insert");
        n += 1;
    }
    let base_s = t.elapsed().as_secs_f64();
    let base_rate = n as f64 / base_s;
    println!(
        "baseline (one transaction per contact): {n} contacts in {base_s:.2} s ({base_rate:.0}/s)"
    );
    println!("import / baseline: {:.1}x", rate / base_rate);

    support::write_json(
        "dialer_import",
        &serde_json::json!({
            "contacts": total,
            "import_s": import_s,
            "import_per_s": rate,
            "second_import_s": again_s,
            "baseline_contacts": n,
            "baseline_per_s": base_rate,
            "ratio": rate / base_rate,
        }),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
