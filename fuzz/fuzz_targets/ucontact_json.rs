//! uContact's JSON input decoders (`facades::ucontact::wire`) on arbitrary text: the `black`
//! object and array (entries to add, keys to delete), the getrecords `filter` object and the
//! `data` of a call (JSON object or `Par1=Val1:Par2=Val2`), the `Dialers/*` objects (Respool,
//! schedule, task). Each answers a value or a
//! `WireError`, never panics; what they accept is what the core accepts.
//!
//! Input: byte 0 chooses the decoder (and the zone of the filter's dates), the rest is the form
//! field's text.
#![no_main]

use std::sync::OnceLock;

use centralita::facades::ucontact::wire::{
    blacklist_entry, blacklist_key, call_variables, dialer_object, json_list, records_filter,
};
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;

fn zones() -> &'static [TimeZone] {
    static ZONES: OnceLock<Vec<TimeZone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        // A zone without DST, one with DST gaps and folds in the past, and UTC.
        ["America/Montevideo", "Europe/Madrid"]
            .iter()
            .map(|n| TimeZone::get(n).expect("system tzdb"))
            .chain([TimeZone::UTC])
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let [which, text @ ..] = data else {
        return;
    };
    // Form values reach the decoders as text (the form decoder replaces invalid UTF-8).
    let text = String::from_utf8_lossy(text);
    match which % 7 {
        0 | 1 => {
            if let Ok(entries) = json_list(&text, which % 7 == 1, blacklist_entry) {
                assert!(!entries.is_empty());
                assert!(entries.iter().all(|e| e.text_ok()));
            }
        }
        2 | 3 => {
            if let Ok(keys) = json_list(&text, which % 7 == 3, blacklist_key) {
                assert!(!keys.is_empty());
            }
        }
        4 => {
            let zones = zones();
            let tz = &zones[usize::from(*which / 7) % zones.len()];
            if let Ok(f) = records_filter(&text, tz) {
                let _ = (f.from, f.to, f.mindur);
            }
        }
        6 => {
            if let Ok(o) = dialer_object(&text) {
                assert!(o.alternatives.len() <= 10);
                assert!(!o.alternatives.contains(&o.destination));
            }
        }
        _ => {
            if let Ok(data) = call_variables(&text) {
                let _ = data.render();
            }
        }
    }
});
