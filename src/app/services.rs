//! [`open_services`]: the facades' [`Services`] over the SQLite stores named by the
//! configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::asterisk::naming::AsteriskNaming;
use crate::asterisk::queue_log::AsteriskQueueLog;
use crate::config::Config;
use crate::core::agent_digest::AgentDigests;
use crate::core::campaigns::CampaignService;
use crate::core::dialer::DialerService;
use crate::core::directory::Directory;
use crate::core::login_guard::{self, LoginGuard};
use crate::core::record_links::RecordLinks;
use crate::core::recordings::RecordingsService;
use crate::core::session_tokens::Sessions;
use crate::core::sms::SmsService;
use crate::core::Journal;
use crate::facades::{FacadeSections, PbxSlot, Services};
use crate::recording_media::MediaCodecs;
use crate::store::{
    SqliteActionJournal, SqliteAgentDigests, SqliteCampaigns, SqliteDialer, SqliteDirectory,
    SqliteHangupCauses, SqliteInstallKeys, SqliteIvr, SqliteJournalReader, SqliteLists,
    SqliteRecordings, SqliteSessions, SqliteSms, StoreError,
};

/// Each facade's own section of `config`.
pub fn facade_sections(config: &Config) -> FacadeSections {
    FacadeSections {
        expand: config.expand.clone(),
        uscall: config.uscall.clone(),
        ucontact: config.ucontact.clone(),
        expand_rest: config.expand_rest.clone(),
    }
}

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
    let actions: Arc<dyn crate::core::audit::ActionJournal> =
        Arc::new(SqliteActionJournal::open(path)?);
    Ok(Services {
        naming: Arc::new(AsteriskNaming),
        queue_log: Arc::new(AsteriskQueueLog),
        directory: Directory::new(Arc::new(SqliteDirectory::open(path)?)),
        journal: Journal::new(Arc::new(SqliteJournalReader::open(
            path,
            config.store.read_connections,
        )?)),
        recordings,
        actions: actions.clone(),
        campaigns: CampaignService::new(
            Arc::new(SqliteCampaigns::open(path)?),
            config.campaigns.campaigns(),
            actions.clone(),
        ),
        dialer: {
            let store = Arc::new(SqliteDialer::open(path)?);
            DialerService::new(store.clone(), config.engine.time_zone())
                .with_calls(store.clone())
                .with_listing(store.clone())
                .with_schedule(store.clone())
                .with_uploads(store)
        },
        agent_digests: AgentDigests::new(Arc::new(SqliteAgentDigests::open(path)?)),
        sms: SmsService::new(Arc::new(SqliteSms::open(path)?), config.sms.settings())
            .with_action_journal(actions.clone()),
        sms_route: config.sms.route(),
        dialing: Arc::new(config.dialing.plan()),
        day_queue_figures: Arc::new(crate::core::day_figures::DayQueueFigures::new()),
        day_agent_figures: Arc::new(crate::core::day_agent_figures::DayAgentFigures::new()),
        sessions: Arc::new(
            Sessions::new(Duration::from_secs(config.ucontact.session_idle_seconds))
                .with_store(Arc::new(SqliteSessions::open(path)?)),
        ),
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
        lists: crate::core::lists::ListsService::new(Arc::new(SqliteLists::open(path)?)),
        ivr: crate::core::ivr::IvrService::new(Arc::new(SqliteIvr::open(path)?)),
        pbx_slot: PbxSlot::default(),
        time_zone: config.engine.time_zone(),
        originate_context: config.originate.context.clone(),
    })
}
