//! [`open_services`]: the facades' [`Services`] over the SQLite stores named by the
//! configuration.

use std::sync::Arc;

use crate::config::Config;
use crate::core::agent_digest::AgentDigests;
use crate::core::directory::Directory;
use crate::core::login_guard::{self, LoginGuard};
use crate::core::record_links::RecordLinks;
use crate::core::recordings::RecordingsService;
use crate::core::Journal;
use crate::facades::{PbxSlot, Services};
use crate::recording_media::MediaCodecs;
use crate::store::{
    SqliteActionJournal, SqliteAgentDigests, SqliteCampaigns, SqliteDirectory, SqliteHangupCauses,
    SqliteInstallKeys, SqliteJournalReader, SqliteRecordings, SqliteSessions, SqliteSms,
    StoreError,
};

/// The facades' [`Services`] over the stores named by `config` (the PBX part is attached once
/// AMI is up).
pub fn open_services(config: Arc<Config>) -> Result<Services, StoreError> {
    let path = &config.store.path;
    let node = config.primary_node();
    let recordings = RecordingsService::new(
        Arc::new(SqliteRecordings::open(path)?),
        Arc::new(MediaCodecs),
        &node.recordings_dir,
        config.recordings.cache_dir_for(&node.recordings_dir),
    );
    Ok(Services {
        directory: Directory::new(Arc::new(SqliteDirectory::open(path)?)),
        journal: Journal::new(Arc::new(SqliteJournalReader::open(
            path,
            config.store.read_connections,
        )?)),
        recordings,
        actions: Arc::new(SqliteActionJournal::open(path)?),
        campaigns: Arc::new(SqliteCampaigns::open(path)?),
        agent_digests: AgentDigests::new(Arc::new(SqliteAgentDigests::open(path)?)),
        sms: Arc::new(SqliteSms::open(path)?),
        sms_http: config.expand.sms_http_gateway().map(|g| Arc::new(g) as _),
        blacklist_changes: Arc::new(tokio::sync::Notify::new()),
        sessions: Arc::new(SqliteSessions::open(path)?),
        logins: Arc::new(LoginGuard::new(
            config.auth.throttle(),
            login_guard::default_permits(),
        )),
        trusted_proxies: config.http.proxies(),
        record_links: RecordLinks::new(
            SqliteInstallKeys::open(path)?.record_links_key()?,
            std::time::Duration::from_secs(config.ucontact.record_link_seconds),
        ),
        hangup_causes: Arc::new(SqliteHangupCauses::open(path)?),
        pbx_slot: PbxSlot::default(),
        config,
    })
}
