//! The dialer benches' uploadbase file and campaign (`dialer_import`, `dialer_upload_http`).

use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::{CampaignId, DialerCampaign, DialerStore, ZoneName};
use centralita::core::directory::QueueName;
use centralita::store::SqliteDialer;

/// The queue of the benches' campaigns.
pub const QUEUE: &str = "q_campanas";

/// `total` uploadbase lines of `campaign`: a main number, three data pairs, an alternative and
/// a priority, every number distinct.
pub fn base(total: u64, campaign: &str) -> Vec<u8> {
    let mut out = String::with_capacity(total as usize * 48);
    for k in 0..total {
        out.push_str(&format!(
            "{campaign};2{k:09};nombre=Cliente {k}:deuda={}:id={k};3{k:09};{};\n",
            k % 9000,
            k % 10 + 1
        ));
    }
    out.into_bytes()
}

/// The campaign `name` on [`QUEUE`], as the benches create it.
pub fn new_campaign(name: &str) -> DialerCampaign {
    DialerCampaign::new(
        CampaignName::parse(name).expect("name"),
        QueueName::new(QUEUE).expect("queue"),
        ZoneName::parse("America/Montevideo").expect("zone"),
    )
}

/// [`new_campaign`] stored in `store`.
pub fn campaign(store: &SqliteDialer, name: &str) -> (CampaignId, DialerCampaign) {
    let c = new_campaign(name);
    let id = store.campaign_create(&c).expect("create").expect("new");
    (id, c)
}

/// `import::import_base` of `file` into campaign `id` (`c`) of `store` at `now`: its report and
/// how long it took, in seconds.
pub fn timed_import(
    store: &SqliteDialer,
    (id, c): (CampaignId, &DialerCampaign),
    file: &[u8],
    now: centralita::core::UnixTime,
) -> (centralita::core::dialer::import::ImportReport, f64) {
    let t = std::time::Instant::now();
    let report = centralita::core::dialer::import::import_base(
        store,
        id,
        c,
        &mut std::io::Cursor::new(file),
        None,
        now,
        &mut |_| {},
    )
    .expect("import");
    (report, t.elapsed().as_secs_f64())
}
