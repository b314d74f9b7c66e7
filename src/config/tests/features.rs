//! The core features' sections (`[sms]`, `[dialing]`, `[campaigns]`) and the keys older files
//! keep in a vendor's section: read with one warning each, refused when also in the new place.

use super::{invalid_field, parse};
use crate::config::{legacy, ConfigError};
use std::path::PathBuf;

/// What `f` logs at warning level and above, and its result.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

const LEGACY: &str = "[expand]\nmax_report_days = 30\n\
     sms_uri_template = \"pjsip:carrier/sip:{number}@192.0.2.1\"\nsms_from = \"Centralita\"\n\
     sms_max_per_second = 7\n\
     [uscall]\nmax_report_days = 31\nddr_context = \"from-ddr\"\nddrs = [\"26002000\"]\n\
     [[uscall.category]]\nid = \"1\"\n[[uscall.category.rule]]\npattern = \"5551XXX\"\n\
     [ucontact]\nmax_search_limit = 50\n\
     [[ucontact.campaign]]\nname = \"Ventas\"\nqueue = \"q_ventas\"\n\
     [[ucontact.campaign.disposition]]\nl1 = \"Venta\"\n";

const CURRENT: &str = "[expand]\nmax_report_days = 30\n[uscall]\nmax_report_days = 31\n\
     [ucontact]\nmax_search_limit = 50\n\
     [sms]\nuri_template = \"pjsip:carrier/sip:{number}@192.0.2.1\"\nfrom = \"Centralita\"\n\
     max_per_second = 7\n\
     [dialing]\nddr_context = \"from-ddr\"\nddrs = [\"26002000\"]\n\
     [[dialing.category]]\nid = \"1\"\n[[dialing.category.rule]]\npattern = \"5551XXX\"\n\
     [[campaigns.campaign]]\nname = \"Ventas\"\nqueue = \"q_ventas\"\n\
     [[campaigns.campaign.disposition]]\nl1 = \"Venta\"\n";

#[test]
fn the_core_features_sections() {
    let (c, log) = logged(|| parse("", CURRENT).unwrap());
    assert_eq!(log, "", "a current file logs nothing");
    assert_eq!(c.sms.from, "Centralita");
    assert_eq!(c.sms.settings().max_per_second, 7);
    assert!(matches!(
        c.sms.route(),
        crate::core::sms::SmsRoute::Pbx(t) if t == "pjsip:carrier/sip:{number}@192.0.2.1"
    ));
    let plan = c.dialing.plan();
    assert_eq!(plan.ddr_context, "from-ddr");
    assert_eq!(plan.ddrs, ["26002000"]);
    assert_eq!(
        plan.category("1")
            .unwrap()
            .apply("5551030")
            .unwrap()
            .as_str(),
        "5551030"
    );
    let campaigns = c.campaigns.campaigns();
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0].queue.as_ref().unwrap().as_str(), "q_ventas");
    assert_eq!(campaigns[0].dispositions[0].l1, "Venta");
    assert_eq!(
        (
            c.expand.max_report_days,
            c.uscall.max_report_days,
            c.ucontact.max_search_limit
        ),
        (30, 31, 50)
    );
    // Defaults: SMS off, no DDRs, no categories, no campaigns.
    let c = parse("", "").unwrap();
    assert!(matches!(c.sms.route(), crate::core::sms::SmsRoute::Off));
    assert_eq!(c.sms.max_per_second, 5);
    assert_eq!(c.dialing.ddr_context, "from-carrier");
    assert!(c.dialing.ddrs.is_empty() && c.dialing.category.is_empty());
    assert!(c.campaigns.campaign.is_empty());
    for (rest, field) in [
        ("[sms]\nmax_per_second = 0\n", "sms.max_per_second"),
        ("[sms]\nuri_template = \"x\"\n", "sms.uri_template"),
        ("[dialing]\nddrs = [\"2a\"]\n", "dialing.ddrs"),
        (
            "[[dialing.category]]\nid = \"1\"\n",
            "dialing.category.rule",
        ),
        (
            "[[campaigns.campaign]]\nname = \"*\"\n",
            "campaigns.campaign.name",
        ),
    ] {
        assert_eq!(invalid_field(parse("", rest)), field, "{rest}");
    }
    for rest in [
        "[sms]\nsms_from = \"x\"\n",
        "[dialing]\nddr = []\n",
        "[campaigns]\nname = \"x\"\n",
    ] {
        assert!(
            matches!(parse("", rest), Err(ConfigError::Parse(_))),
            "{rest}"
        );
    }
}

#[test]
fn legacy_placements_are_read_with_one_warning_each() {
    let (old, log) = logged(|| parse("", LEGACY).unwrap());
    let new = parse("", CURRENT).unwrap();
    assert_eq!(format!("{old:?}"), format!("{new:?}"), "the same values");
    let warnings: Vec<&str> = log.lines().collect();
    assert_eq!(warnings.len(), 7, "{log}");
    for (old_key, new_key) in [
        ("expand.sms_uri_template", "sms.uri_template"),
        ("expand.sms_from", "sms.from"),
        ("expand.sms_max_per_second", "sms.max_per_second"),
        ("uscall.ddr_context", "dialing.ddr_context"),
        ("uscall.ddrs", "dialing.ddrs"),
        ("uscall.category", "dialing.category"),
        ("ucontact.campaign", "campaigns.campaign"),
    ] {
        let line = format!("`{old_key}` has moved to `{new_key}`");
        assert_eq!(
            warnings
                .iter()
                .filter(|w| w.contains("WARN") && w.contains(&line))
                .count(),
            1,
            "{line}: {log}"
        );
    }
    // The HTTP provider's keys too; the token stays a secret.
    let (c, log) = logged(|| {
        parse(
            "",
            "[expand]\nsms_gateway_url = \"http://127.0.0.1:9000/send\"\nsms_gateway_token = \"t0k\"\n",
        )
        .unwrap()
    });
    assert_eq!(c.sms.gateway_url, "http://127.0.0.1:9000/send");
    assert_eq!(c.sms.gateway_token.expose(), "t0k");
    assert!(c.sms.http_gateway().is_some());
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(!log.contains("t0k") && !format!("{c:?}").contains("t0k"));
    // An old key's bad value is refused under its new name.
    assert_eq!(
        invalid_field(parse("", "[expand]\nsms_max_per_second = 0\n")),
        "sms.max_per_second"
    );
    // A legacy file keeps refusing unknown keys.
    assert!(matches!(
        parse("", "[expand]\nsms_from = \"a\"\nsms_frm = \"b\"\n"),
        Err(ConfigError::Parse(_))
    ));
}

#[test]
fn a_setting_in_both_places_is_an_error_naming_both() {
    for (rest, old_key, new_key) in [
        (
            "[expand]\nsms_from = \"A\"\n[sms]\nfrom = \"B\"\n",
            "expand.sms_from",
            "sms.from",
        ),
        (
            "[uscall]\nddrs = [\"1\"]\n[dialing]\nddrs = [\"2\"]\n",
            "uscall.ddrs",
            "dialing.ddrs",
        ),
        (
            "[[uscall.category]]\nid = \"1\"\n[[uscall.category.rule]]\npattern = \"X\"\n\
             [[dialing.category]]\nid = \"2\"\n[[dialing.category.rule]]\npattern = \"X\"\n",
            "uscall.category",
            "dialing.category",
        ),
        (
            "[[ucontact.campaign]]\nname = \"a\"\n[[campaigns.campaign]]\nname = \"b\"\n",
            "ucontact.campaign",
            "campaigns.campaign",
        ),
    ] {
        let err = parse("", rest).unwrap_err();
        match &err {
            ConfigError::Duplicate { old, new } => {
                assert_eq!((old.as_str(), new.as_str()), (old_key, new_key), "{rest}");
            }
            other => panic!("{rest}: {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(old_key) && text.contains(new_key), "{text}");
    }
}

#[test]
fn the_readme_lists_every_moved_key() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let rows: Vec<(&str, &str)> = readme
        .lines()
        .filter_map(|l| {
            let mut cells = l.strip_prefix("| `")?.split(" | ");
            Some((cells.next()?, cells.next()?))
        })
        .collect();
    for m in legacy::moves() {
        let (old, new) = (m.old(), m.new_place());
        let (old_section, old_key) = old.split_once('.').unwrap();
        let (new_section, new_key) = new.split_once('.').unwrap();
        let listed = rows.iter().any(|(from, to)| {
            (from.contains(&format!("[{old_section}] {old_key}`"))
                || from.contains(&format!("[[{old}]]")))
                && (to.contains(&format!("[{new_section}] {new_key}`"))
                    || to.contains(&format!("[[{new}]]")))
        });
        assert!(listed, "README's moved-from table lacks {old} -> {new}");
    }
}

#[test]
fn tts_section_defaults_values_and_refusals() {
    let c = parse("", "").unwrap();
    let s = c.tts.cache_settings();
    assert_eq!(c.tts.program, PathBuf::from("espeak-ng"));
    assert_eq!(
        s.dir,
        PathBuf::from("/var/lib/asterisk/sounds/centralita-tts")
    );
    assert_eq!(
        s.asterisk_dir, s.dir,
        "Asterisk sees the engine's folder by default"
    );
    assert_eq!(s.max_entries, 5000);
    assert_eq!((c.tts.voice.as_str(), c.tts.rate), ("es", 160));
    let c = parse(
        "",
        "[tts]\ncache_dir = \"/srv/root/var/lib/tts\"\nasterisk_dir = \"/var/lib/tts\"\n\
         voice = \"pt-BR\"\nrate = 200\nmax_entries = 10\ntimeout_ms = 500\n",
    )
    .unwrap();
    let s = c.tts.cache_settings();
    assert_eq!(s.dir, PathBuf::from("/srv/root/var/lib/tts"));
    assert_eq!(s.asterisk_dir, PathBuf::from("/var/lib/tts"));
    assert_eq!(s.max_entries, 10);
    for (bad, field) in [
        ("cache_dir = \"relative/tts\"", "tts.cache_dir"),
        ("asterisk_dir = \"/var/lib/a b\"", "tts.asterisk_dir"),
        ("asterisk_dir = \"/var/lib/../etc\"", "tts.asterisk_dir"),
        ("voice = \"es;x\"", "tts.voice"),
        ("rate = 20", "tts.rate"),
        ("max_entries = 0", "tts.max_entries"),
        ("timeout_ms = 10", "tts.timeout_ms"),
    ] {
        assert_eq!(
            invalid_field(parse("", &format!("[tts]\n{bad}\n"))),
            field,
            "{bad}"
        );
    }
}
