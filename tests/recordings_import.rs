//! Fast tier: `RecordingsService::import_dir` on a temporary legacy folder of real audio files
//! made by `sox` (PCM WAV, GSM, WAV49, a fake MP3), flat and in day folders: one file named after
//! a CDR's uniqueid is matched to it, the others are not; unsupported names are skipped with a
//! reason; a re-run imports nothing new; imported files are served.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use centralita::core::recordings::{RecordingFormat, RecordingKey, RecordingsService, ServeFormat};
use centralita::core::{
    CdrRecord, ChannelName, Disposition, JournalStore, SourceCursor, SourceId, UniqueId, UnixTime,
};
use centralita::recording_media::MediaCodecs;
use centralita::store::{SqliteJournal, SqliteRecordings};

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("centralita-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sox(out: &Path, extra: &[&str]) {
    let status = Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1"])
        .args(extra)
        .arg(out)
        .args(["synth", "2", "sine", "697"])
        .status()
        .expect("sox runs");
    assert!(status.success(), "sox {}", out.display());
}

fn cdr(uniqueid: &str) -> CdrRecord {
    CdrRecord {
        source_rowid: 41,
        clid: String::new(),
        src: "1001".into(),
        dst: "5551006".into(),
        dcontext: "outbound".into(),
        channel: ChannelName::new("PJSIP/1001-00000001"),
        dstchannel: Some(ChannelName::new("PJSIP/carrier-00000002")),
        lastapp: "Dial".into(),
        lastdata: String::new(),
        duration: Duration::from_secs(4),
        billsec: Duration::from_secs(2),
        disposition: Disposition::Answered,
        amaflags: String::new(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(uniqueid),
        linkedid: UniqueId::new("legacy-1600000000.7"),
        sequence: 1,
        peeraccount: String::new(),
        userfield: String::new(),
        start: UnixTime(1_600_000_000),
        answer: Some(UnixTime(1_600_000_002)),
        end: UnixTime(1_600_000_004),
        recordingfile: String::new(),
        calldata: "idcti=LEGACY-1".into(),
    }
}

#[test]
fn a_legacy_folder_is_imported_matched_and_served_and_a_rerun_changes_nothing() {
    let dir = scratch("recordings-import");
    let legacy = dir.join("legacy");
    let root = dir.join("monitor");
    std::fs::create_dir_all(legacy.join("20200913")).unwrap();
    std::fs::create_dir_all(legacy.join("notaday")).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    // A WAV named after a CDR's uniqueid, in a day folder.
    sox(
        &legacy.join("20200913/legacy-1600000000.8.wav"),
        &["-b", "16"],
    );
    // A flat GSM and a WAV49 matching nothing; a GUID-named WAV (uContact's records/<guid>).
    sox(&legacy.join("orphan.gsm"), &[]);
    sox(&legacy.join("wav49call.wav"), &["-e", "gsm-full-rate"]);
    let guid = "0F8FAD5B-D9CB-469F-A165-70867728950E";
    sox(&legacy.join(format!("{guid}.wav")), &["-b", "16"]);
    // An MP3 (served as is); something that is not audio; a folder that is not a day.
    std::fs::write(
        legacy.join("old.mp3"),
        b"ID3\x03\x00\x00\x00\x00\x00\x00fake",
    )
    .unwrap();
    std::fs::write(legacy.join("notes.txt"), b"x").unwrap();
    std::fs::write(legacy.join("broken.wav"), b"RIFF\x00\x00").unwrap();

    let store_path = dir.join("store.db");
    let mut journal = SqliteJournal::open(&store_path).unwrap();
    journal
        .append_cdrs(
            &SourceId::new("cdr"),
            &[cdr("legacy-1600000000.8")],
            SourceCursor::Rowid(41),
        )
        .unwrap();
    let svc = RecordingsService::new(
        Arc::new(SqliteRecordings::open(&store_path).unwrap()),
        Arc::new(MediaCodecs),
        &root,
        dir.join("cache"),
    );

    // Dry run: nothing written.
    let dry = svc.import_dir(&legacy, true, &mut |_, _| {}).unwrap();
    assert_eq!(dry.imported, 5, "{dry:?}");
    assert!(svc
        .find(&RecordingKey::UniqueId("legacy-1600000000.8".into()))
        .is_err());
    assert!(std::fs::read_dir(&root).unwrap().next().is_none());

    let mut calls = Vec::new();
    let summary = svc
        .import_dir(&legacy, false, &mut |done, total| calls.push((done, total)))
        .unwrap();
    assert_eq!(calls.last(), Some(&(7, 7)), "progress per candidate file");
    assert_eq!(summary.files, 8, "{summary:?}");
    assert_eq!(
        (
            summary.imported,
            summary.matched,
            summary.unmatched,
            summary.already
        ),
        (5, 1, 4, 0),
        "{summary:?}"
    );
    let mut reasons: Vec<_> = summary
        .skipped
        .iter()
        .map(|s| {
            (
                s.file.as_str(),
                s.reason.split(':').next().unwrap().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("broken.wav", "corrupt".to_owned()),
            ("notaday/", "not a day folder (YYYYMMDD)".to_owned()),
            ("notes.txt", "unsupported extension `.txt`".to_owned()),
        ]
    );

    // The matched one carries its call's ids.
    let matched = svc
        .find(&RecordingKey::IdCti("LEGACY-1".into()))
        .expect("matched by uniqueid");
    assert_eq!(matched.id.as_str(), "legacy-1600000000.8");
    assert_eq!(matched.cdr_rowid, Some(41));
    assert_eq!(
        matched.relative_path.as_str(),
        "20200913/legacy-1600000000.8.wav"
    );
    assert_eq!(matched.format, RecordingFormat::Wav);
    assert_eq!(matched.duration, Duration::from_secs(2));
    assert!(root.join("20200913/legacy-1600000000.8.wav").is_file());
    assert_eq!(
        svc.find(&RecordingKey::LinkedId("legacy-1600000000.7".into()))
            .unwrap()
            .id,
        matched.id
    );

    // Unmatched ones: formats probed, GUID stems kept as the guid.
    let gsm = svc.find(&RecordingKey::Id("orphan".into())).unwrap();
    assert_eq!(gsm.format, RecordingFormat::Gsm);
    assert_eq!(gsm.cdr_rowid, None);
    assert_eq!(gsm.duration, Duration::from_secs(2));
    let wav49 = svc.find(&RecordingKey::Id("wav49call".into())).unwrap();
    assert_eq!(wav49.format, RecordingFormat::Wav49);
    let by_guid = svc.find(&RecordingKey::Guid(guid.into())).unwrap();
    assert_eq!(by_guid.id.as_str(), guid);
    let mp3 = svc.find(&RecordingKey::Id("old".into())).unwrap();
    assert_eq!(mp3.format, RecordingFormat::Mp3);

    // Served: GSM as WAV 8 kHz, the MP3 as is, the MP3 as Ogg refused clearly.
    let served = svc
        .open_as(&RecordingKey::Id("orphan".into()), ServeFormat::Wav8k)
        .unwrap();
    assert!(served.path.starts_with(dir.join("cache/wav")));
    assert!(std::fs::metadata(&served.path).unwrap().len() > 30_000);
    let as_is = svc
        .open_as(&RecordingKey::Id("old".into()), ServeFormat::Mp3)
        .unwrap();
    assert!(as_is.path.starts_with(&root));
    assert!(matches!(
        svc.open_as(&RecordingKey::Id("old".into()), ServeFormat::Ogg),
        Err(centralita::core::recordings::RecordingError::Unsupported(_))
    ));

    // Re-run: nothing new, nothing duplicated.
    let again = svc.import_dir(&legacy, false, &mut |_, _| {}).unwrap();
    assert_eq!((again.imported, again.already), (0, 5), "{again:?}");
    let all = svc.list(centralita::core::TimeRange::all(), 100).unwrap();
    assert_eq!(all.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
