//! The configuration's unit tests: every section's defaults, values and refusals
//! (`features.rs`: the core features' sections and the legacy placements of their keys).

use super::*;

mod features;
use std::time::Duration;

/// A minimal valid file: `node_keys` go into the `[[node]]` table, `rest` after it.
pub(super) fn text(node_keys: &str, rest: &str) -> String {
    format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n\n[[node]]\nname = \"pbx1\"\n{node_keys}\n\
         [node.ami]\nhost = \"10.0.0.5\"\nusername = \"centralita\"\nsecret = \"hunter2\"\n\n{rest}"
    )
}

fn parse(node_keys: &str, rest: &str) -> Result<Config, ConfigError> {
    Config::from_toml(&text(node_keys, rest))
}

fn invalid_field(result: Result<Config, ConfigError>) -> &'static str {
    match result {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid value, got {other:?}"),
    }
}

#[test]
fn outbound_section_defaults_overrides_and_validation() {
    use crate::core::audit::Actor;
    let c = parse("", "").unwrap();
    assert_eq!(c.outbound.calls_per_minute, 30);
    assert_eq!(c.outbound.max_concurrent, 10);
    assert_eq!(
        c.originate_settings().policy.as_ref(),
        &c.outbound.policy().unwrap()
    );
    let c = parse(
        "",
        "[outbound]\nnational = [\"_5551XXX\"]\npremium_prefixes = [\"0900\", \"0909\"]\n\
         calls_per_minute = 5\n\
         [[outbound.credential]]\nprincipal = \"crm-intl\"\napi = \"expand\"\n\
         allow = [\"_00X.\"]\nmax_concurrent = 2\n\
         [[outbound.campaign]]\nname = \"Ventas->\"\nallow = [\"_5552XXX\"]\n",
    )
    .unwrap();
    let policy = c.originate_settings().policy;
    let crm = Actor::new("expand", "id1").with_system("crm-intl");
    assert_eq!(policy.check_destination(&crm, None, "0054911"), Ok(()));
    assert_eq!(policy.limits(&crm).max_concurrent, 2);
    assert_eq!(policy.limits(&crm).calls_per_minute, 5);
    let other = Actor::new("uscall", "id2");
    assert!(policy.check_destination(&other, None, "0054911").is_err());
    assert!(policy.check_destination(&other, None, "5552000").is_err());
    assert_eq!(
        policy.check_destination(&other, Some("Ventas->"), "5552000"),
        Ok(())
    );
    assert!(policy.check_destination(&other, None, "09091234").is_err());
    for (rest, field) in [
        ("[outbound]\nnational = [\"5.5\"]", "outbound.national"),
        ("[outbound]\ninternal = [\"\"]", "outbound.internal"),
        (
            "[outbound]\ninternational_prefixes = [\"0x\"]",
            "outbound.international_prefixes",
        ),
        (
            "[outbound]\npremium_prefixes = [\"\"]",
            "outbound.premium_prefixes",
        ),
        (
            "[outbound]\ncalls_per_minute = 0",
            "outbound.calls_per_minute",
        ),
        (
            "[outbound]\nmax_concurrent = 100001",
            "outbound.max_concurrent",
        ),
        (
            "[[outbound.credential]]\nprincipal = \"\"",
            "outbound.credential.principal",
        ),
        (
            "[[outbound.credential]]\nprincipal = \"x\"\napi = \"sip\"",
            "outbound.credential.api",
        ),
        (
            "[[outbound.credential]]\nprincipal = \"x\"\nallow = [\"a\"]",
            "outbound.credential.allow",
        ),
        (
            "[[outbound.credential]]\nprincipal = \"x\"\nmax_concurrent = 0",
            "outbound.credential.max_concurrent",
        ),
        (
            "[[outbound.campaign]]\nname = \"c\"\nallow = [\"[\"]",
            "outbound.campaign.allow",
        ),
    ] {
        assert_eq!(invalid_field(parse("", rest)), field, "{rest}");
    }
    assert!(matches!(
        parse("", "[outbound]\nnationals = []"),
        Err(ConfigError::Parse(_))
    ));
}

#[test]
fn every_default() {
    let c = parse("", "").unwrap();
    assert_eq!(c.engine.timezone, "America/Montevideo");
    assert_eq!(c.engine.time_zone().iana_name(), Some("America/Montevideo"));
    assert_eq!(c.store.path, Path::new("centralita.db"));
    let n = c.primary_node();
    assert_eq!(n.name, "pbx1");
    assert_eq!(n.ami.host, "10.0.0.5");
    assert_eq!(n.ami.port, 5038);
    assert_eq!(n.ami.username, "centralita");
    assert_eq!(n.ami.secret.expose(), "hunter2");
    assert!(n.ari.is_none());
    assert_eq!(n.cdr_db, Path::new("/var/log/asterisk/master.db"));
    assert_eq!(n.queue_log, Path::new("/var/log/asterisk/queue_log"));
    assert_eq!(n.queues_conf, Path::new("/etc/asterisk/queues.conf"));
    assert_eq!(n.recordings_dir, Path::new("/var/spool/asterisk/monitor"));
    assert_eq!(n.poll_interval_ms, 500);
    assert_eq!(
        n.ingest_settings().poll_interval,
        Duration::from_millis(500)
    );
    assert_eq!(c.originate.retention_seconds, 86_400);
    assert_eq!(c.originate.default_ring_timeout_seconds, 30);
    assert_eq!(c.originate.context, "centralita-originate");
    let s = c.originate.service_settings();
    assert_eq!(s.retention, Duration::from_secs(86_400));
    assert_eq!(s.default_ring_timeout, Duration::from_secs(30));
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.agi.bind.to_string(), "127.0.0.1:4573");
    assert_eq!(c.agi.max_connections, 64);
    assert_eq!(c.http.body_limit_bytes, 1_048_576);
    assert_eq!(c.http.max_ingest_lag_seconds, 10);
    let ami = n.ami.settings();
    assert_eq!((ami.host.as_str(), ami.port), ("10.0.0.5", 5038));
    assert_eq!(c.recordings.policy, RecordingPolicyName::Always);
    assert!(c.recordings.queues.is_empty());
    assert_eq!(
        c.recordings.cache_dir_for(&n.recordings_dir),
        Path::new("/var/spool/asterisk/monitor/.cache")
    );
}

#[test]
fn recordings_section() {
    let c = parse(
        "",
        "[recordings]\npolicy = \"per_queue\"\nqueues = [\"q_ventas\"]\n\
         cache_dir = \"/srv/cache\"\n",
    )
    .unwrap();
    assert_eq!(
        c.recordings.policy(),
        crate::core::recordings::RecordingPolicy::PerQueue(vec!["q_ventas".into()])
    );
    assert_eq!(
        c.recordings.cache_dir_for(Path::new("/x")),
        Path::new("/srv/cache")
    );
    let c = parse("", "[recordings]\npolicy = \"per_job\"\n").unwrap();
    assert_eq!(c.recordings.policy, RecordingPolicyName::PerJob);
    assert!(matches!(
        parse("", "[recordings]\npolicy = \"sometimes\"\n"),
        Err(ConfigError::Parse(_))
    ));
    for rest in [
        "[recordings]\nqueues = [\"q_ventas\"]\n",
        "[recordings]\npolicy = \"per_queue\"\nqueues = [\"a,b\"]\n",
    ] {
        assert_eq!(
            invalid_field(parse("", rest)),
            "recordings.queues",
            "{rest}"
        );
    }
    assert_eq!(
        invalid_field(parse("", "[recordings]\ncache_dir = \"\"\n")),
        "recordings.cache_dir"
    );
}

#[test]
fn every_value_is_read() {
    let c = parse(
        "cdr_db = \"/lab/master.db\"\nqueue_log = \"/lab/queue_log\"\n\
         recordings_dir = \"/lab/monitor\"\npoll_interval_ms = 200\n",
        "[node.ari]\nurl = \"http://127.0.0.1:8088/ari\"\nusername = \"centralita\"\n\
         secret = \"ari-pw\"\n\n[store]\npath = \"/tmp/j.db\"\n\n\
         [originate]\nretention_seconds = 60\ndefault_ring_timeout_seconds = 5\n\
         context = \"my-ctx\"\n\n[http]\nbind = \"0.0.0.0:9000\"\nbody_limit_bytes = 2048\n\
         max_ingest_lag_seconds = 3\n",
    )
    .unwrap();
    let n = c.primary_node();
    let s = n.ingest_settings();
    assert_eq!(s.cdr_db, Path::new("/lab/master.db"));
    assert_eq!(s.queue_log, Path::new("/lab/queue_log"));
    assert_eq!(s.poll_interval, Duration::from_millis(200));
    assert_eq!(n.recordings_dir, Path::new("/lab/monitor"));
    let ari = n.ari.as_ref().unwrap();
    assert_eq!(ari.url, "http://127.0.0.1:8088/ari");
    assert_eq!(ari.username, "centralita");
    assert_eq!(ari.secret.expose(), "ari-pw");
    assert_eq!(c.store.path, Path::new("/tmp/j.db"));
    assert_eq!(c.originate.retention_seconds, 60);
    assert_eq!(c.originate.default_ring_timeout_seconds, 5);
    assert_eq!(c.originate.context, "my-ctx");
    assert_eq!(c.http.bind.to_string(), "0.0.0.0:9000");
    assert_eq!(c.http.body_limit_bytes, 2048);
    assert_eq!(c.http.max_ingest_lag_seconds, 3);
}

#[test]
fn secrets_never_in_debug_output() {
    let c = parse(
        "",
        "[node.ari]\nurl = \"http://pbx/ari\"\nusername = \"u\"\nsecret = \"ari-s3cr3t\"\n",
    )
    .unwrap();
    let debug = format!("{c:?} {:#?}", c.primary_node());
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("ari-s3cr3t"), "{debug}");
    assert!(debug.contains("***"));
}

#[test]
fn unknown_keys_and_sections_rejected() {
    for (node_keys, rest) in [
        ("queuelog = \"/x\"", ""),
        ("", "[store]\nfile = \"/x\"\n"),
        ("", "[originate]\nretention = 5\n"),
        ("", "[http]\nlimit = 5\n"),
        (
            "",
            "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\nsecret = \"s\"\nx = 1\n",
        ),
        ("", "[ami]\nhost = \"h\"\n"),
        ("", "[asterisk]\ncdr_db = \"/x\"\n"),
    ] {
        assert!(
            matches!(parse(node_keys, rest), Err(ConfigError::Parse(_))),
            "{node_keys} {rest}"
        );
    }
    let typo = text("", "").replace("secret = \"hunter2\"", "secret = \"s\"\nsecrte = \"x\"");
    assert!(matches!(
        Config::from_toml(&typo),
        Err(ConfigError::Parse(_))
    ));
    let typo = text("", "").replace("[engine]", "[engine]\ntz = \"UTC\"");
    assert!(matches!(
        Config::from_toml(&typo),
        Err(ConfigError::Parse(_))
    ));
}

#[test]
fn missing_required_keys_rejected() {
    for key in [
        "timezone = \"America/Montevideo\"\n",
        "name = \"pbx1\"\n",
        "host = \"10.0.0.5\"\n",
        "username = \"centralita\"\n",
        "secret = \"hunter2\"\n",
    ] {
        let t = text("", "").replacen(key, "", 1);
        assert!(
            matches!(Config::from_toml(&t), Err(ConfigError::Parse(_))),
            "{key}"
        );
    }
    // An ARI section must be complete.
    assert!(matches!(
        parse("", "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\n"),
        Err(ConfigError::Parse(_))
    ));
}

#[test]
fn timezone_must_be_an_iana_name() {
    for tz in [
        "America/Montevideo",
        "UTC",
        "Europe/Madrid",
        "America/Argentina/Buenos_Aires",
    ] {
        let t = text("", "").replace("America/Montevideo", tz);
        assert_eq!(Config::from_toml(&t).unwrap().engine.timezone, tz);
    }
    for tz in [
        "",
        "Mars/Olympus_Mons",
        "America/Montevideo ",
        "/usr/share/zoneinfo/UTC",
        "../../etc/passwd",
        "EST5EDT,M3.2.0,M11.1.0",
        "America/",
    ] {
        let t = text("", "").replace("America/Montevideo", tz);
        assert_eq!(
            invalid_field(Config::from_toml(&t)),
            "engine.timezone",
            "{tz:?}"
        );
    }
}

#[test]
fn exactly_one_node() {
    let base = text("", "");
    let second = "\n[[node]]\nname = \"pbx2\"\n[node.ami]\nhost = \"h2\"\nusername = \"u\"\nsecret = \"s\"\n";
    match Config::from_toml(&format!("{base}{second}")) {
        Err(ConfigError::Invalid { field, reason }) => {
            assert_eq!(field, "node");
            assert_eq!(reason, "only one node is supported yet");
        }
        other => panic!("{other:?}"),
    }
    let none = "[engine]\ntimezone = \"UTC\"\n";
    assert_eq!(invalid_field(Config::from_toml(none)), "node");
}

#[test]
fn auth_agents_and_proxies() {
    let c = Config::from_toml(&text("", "")).unwrap();
    assert_eq!(
        c.auth.throttle(),
        crate::core::throttle::ThrottleSettings::default()
    );
    assert!(c.agents.non_agent().is_empty() && c.http.proxies().is_empty());
    let c = Config::from_toml(&text(
        "",
        "[auth]\nmax_failures_per_principal = 3\nlockout_seconds = 2\n\
         [agents]\nnon_agent_extensions = [\"1100\"]\n\
         [http]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
    ))
    .unwrap();
    let t = c.auth.throttle();
    assert_eq!(
        (t.max_failures_per_principal, t.lockout),
        (3, Duration::from_secs(2))
    );
    assert_eq!(c.agents.non_agent()[0].as_str(), "1100");
    assert_eq!(c.http.proxies().len(), 2);
}

#[test]
fn bad_values_rejected() {
    let node_cases = [
        ("name = \"pbx 1\"", "node.name"),
        ("cdr_db = \"\"", "node.cdr_db"),
        ("queue_log = \"\"", "node.queue_log"),
        ("recordings_dir = \"\"", "node.recordings_dir"),
        ("poll_interval_ms = 0", "node.poll_interval_ms"),
        ("poll_interval_ms = 600000", "node.poll_interval_ms"),
    ];
    for (keys, field) in node_cases {
        // `name` is already set: replace it rather than repeating it.
        let t = if keys.starts_with("name") {
            text("", "").replace("name = \"pbx1\"", keys)
        } else {
            text(keys, "")
        };
        assert_eq!(invalid_field(Config::from_toml(&t)), field, "{keys}");
    }
    let rest_cases = [
        (
            "[auth]\nmax_failures_per_principal = 0\n",
            "auth.max_failures_per_principal",
        ),
        (
            "[auth]\nmax_failures_per_address = 0\n",
            "auth.max_failures_per_address",
        ),
        ("[auth]\nwindow_seconds = 0\n", "auth.window_seconds"),
        ("[auth]\nlockout_seconds = 0\n", "auth.lockout_seconds"),
        (
            "[auth]\nlockout_seconds = 120\nmax_lockout_seconds = 60\n",
            "auth.max_lockout_seconds",
        ),
        (
            "[agents]\nnon_agent_extensions = [\"PJSIP/1100\"]\n",
            "agents.non_agent_extensions",
        ),
        (
            "[http]\ntrusted_proxies = [\"proxy\"]\n",
            "http.trusted_proxies",
        ),
        ("[store]\npath = \"\"\n", "store.path"),
        (
            "[originate]\nretention_seconds = 59\n",
            "originate.retention_seconds",
        ),
        (
            "[originate]\ndefault_ring_timeout_seconds = 0\n",
            "originate.default_ring_timeout_seconds",
        ),
        (
            "[originate]\ndefault_ring_timeout_seconds = 601\n",
            "originate.default_ring_timeout_seconds",
        ),
        ("[originate]\ncontext = \"a,b\"\n", "originate.context"),
        ("[originate]\ncontext = \"\"\n", "originate.context"),
        ("[http]\nbody_limit_bytes = 10\n", "http.body_limit_bytes"),
        (
            "[http]\nmax_ingest_lag_seconds = 0\n",
            "http.max_ingest_lag_seconds",
        ),
        (
            "[node.ari]\nurl = \"ftp://h/ari\"\nusername = \"u\"\nsecret = \"s\"\n",
            "node.ari.url",
        ),
        (
            "[node.ari]\nurl = \"https://h/ari\"\nusername = \"u\"\nsecret = \"s\"\n",
            "node.ari.url",
        ),
        ("[agi]\nmax_connections = 0\n", "agi.max_connections"),
        ("[agi]\nmax_connections = 4097\n", "agi.max_connections"),
        (
            "[node.ari]\nurl = \"http://\"\nusername = \"u\"\nsecret = \"s\"\n",
            "node.ari.url",
        ),
        (
            "[node.ari]\nurl = \"http://h/ari\"\nusername = \"a:b\"\nsecret = \"s\"\n",
            "node.ari.username",
        ),
        (
            "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\nsecret = \"\"\n",
            "node.ari.secret",
        ),
    ];
    for (rest, field) in rest_cases {
        assert_eq!(invalid_field(parse("", rest)), field, "{rest}");
    }
    assert_eq!(
        invalid_field(parse("queues_conf = \"\"", "")),
        "node.queues_conf"
    );
    let ami_cases = [
        ("host = \"10.0.0.5\"", "host = \" \"", "node.ami.host"),
        (
            "username = \"centralita\"",
            "username = \"u\\r\\nAction: Logoff\"",
            "node.ami.username",
        ),
        ("secret = \"hunter2\"", "secret = \"\"", "node.ami.secret"),
    ];
    for (from, to, field) in ami_cases {
        let t = text("", "").replacen(from, to, 1);
        assert_eq!(invalid_field(Config::from_toml(&t)), field, "{to}");
    }
    let t = text("", "").replace("host = \"10.0.0.5\"", "host = \"h\"\nport = 0");
    assert_eq!(invalid_field(Config::from_toml(&t)), "node.ami.port");
}

#[test]
fn the_lab_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/centralita.lab.toml");
    let c = Config::load(&path).unwrap();
    let n = c.primary_node();
    assert_eq!(n.name, "pbx1");
    assert_eq!(n.ami.port, 5038);
    assert!(n.ari.is_some());
    assert_eq!(
        n.queues_conf,
        Path::new("/var/cache/centralita/lab-root/etc/asterisk/queues.conf")
    );
    assert_eq!(c.agi.bind.to_string(), "127.0.0.1:4573");
    assert_eq!(c.engine.timezone, "America/Montevideo");
    // Its outbound policy admits every number the lab and its tests dial, and refuses
    // international and premium-rate ones.
    let policy = c.outbound.policy().unwrap();
    let who = crate::core::audit::Actor::new("expand", "k");
    for n in [
        "5551000",
        "5551030",
        "5552000",
        "5553000",
        "5554000",
        "5556000",
        "26001000",
        "26002000",
        "26003000",
        "099555001",
        "099555111",
        "1001",
        "1008",
        "1100",
    ] {
        assert_eq!(policy.check_destination(&who, None, n), Ok(()), "{n}");
    }
    for n in ["0059899123456", "+5491155551234", "09001234"] {
        assert!(policy.check_destination(&who, None, n).is_err(), "{n}");
    }
}
