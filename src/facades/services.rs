//! [`Services`]: what the facades reach the core through (ports as `Arc<dyn …>` and core
//! services), and [`PbxServices`], the part that exists once AMI is up. Built by the
//! composition root (`app`); the facades never name an adapter.

use std::sync::{Arc, OnceLock};

use crate::core::agent_digest::AgentDigests;
use crate::core::agents::AgentService;
use crate::core::audit::ActionJournal;
use crate::core::call_commands::CallCommands;
use crate::core::campaigns::CampaignService;
use crate::core::day_agent_figures::DayAgentFigures;
use crate::core::day_figures::DayQueueFigures;
use crate::core::dialing::DialingPlan;
use crate::core::directory::Directory;
use crate::core::hangup_causes::HangupCauseStore;
use crate::core::live::SharedLive;
use crate::core::login_guard::LoginGuard;
use crate::core::naming::ChannelNaming;
use crate::core::originate_service::OriginateService;
use crate::core::queue_details::QueueLogLayout;
use crate::core::record_links::RecordLinks;
use crate::core::recordings::RecordingsService;
use crate::core::reports::ReportContext;
use crate::core::session_tokens::Sessions;
use crate::core::sms::{SmsRoute, SmsService};
use crate::core::{Journal, UnixTime};
use crate::facades::client_addr::Network;

/// The services that need the PBX; they exist once AMI has connected for the first time (the
/// client reconnects by itself after that).
#[derive(Clone)]
pub struct PbxServices {
    /// Originate jobs.
    pub originate: OriginateService,
    /// Agent login, logout, pause, unpause.
    pub agents: AgentService,
    /// Live state (agents, queues, endpoints), rebuilt after every reconnect.
    pub live: Arc<SharedLive>,
    /// Hang up, spy, send messages.
    pub commands: Arc<dyn CallCommands>,
}

/// What the facades reach the core through: ports and core services only (built by the
/// composition root, `app::open_services`, which names the adapters). Built at start; the PBX
/// part is attached once AMI is up ([`Services::pbx`] is `None` until then, and the facades
/// answer their vendor's "not available" code).
pub struct Services {
    /// The call center's time zone (`[engine] timezone`): the one vendor answers render
    /// times in.
    pub time_zone: jiff::tz::TimeZone,
    /// The dialplan context originated calls enter (`[originate] context`): how a call the
    /// engine placed is told apart from others in the CDRs.
    pub originate_context: String,
    /// Agents, pause reasons, API credentials.
    pub directory: Directory,
    /// Reads of the journal of CDRs and queue activity (a pool of read connections beside
    /// the ingestor's writer).
    pub journal: Journal,
    /// The recordings catalogue and its media.
    pub recordings: RecordingsService,
    /// The journal of the engine's own actions.
    pub actions: Arc<dyn ActionJournal>,
    /// Campaigns: the blacklist, the calls placed for campaigns, dispositions.
    pub campaigns: CampaignService,
    /// The outbound dialer: its campaigns, contacts, claims and imports.
    pub dialer: crate::core::dialer::DialerService,
    /// Hashes of the MD5 digests of agents' passwords (USCall's agentLogin).
    pub agent_digests: AgentDigests,
    /// The site's dialing rules (`[dialing]`): categories and DDRs.
    pub dialing: Arc<DialingPlan>,
    /// Text messages (SMS) sent for API clients.
    pub sms: SmsService,
    /// Which way text messages leave (`[sms]`): an HTTP provider, the PBX, or none.
    pub sms_route: SmsRoute,
    /// API sessions (uContact's getUserToken), kept across restarts as token hashes.
    pub sessions: Arc<Sessions>,
    /// Today's queue figures, kept up to date (supervisor panels).
    pub day_queue_figures: Arc<DayQueueFigures>,
    /// Today's agent figures, kept up to date (agent panels and today's agent reports).
    pub day_agent_figures: Arc<DayAgentFigures>,
    /// Every password, digest and key check: the throttle (`[auth]`) and the bounded hashing
    /// pool.
    pub logins: Arc<LoginGuard>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`[http] trusted_proxies`).
    pub trusted_proxies: Vec<Network>,
    /// Signed, expiring links to recordings (the install's key, kept in the store).
    pub record_links: RecordLinks,
    /// Key/value lists (eXpand's simple lists; asked by flows).
    pub lists: crate::core::lists::ListsService,
    /// Why channels ended (AMI `Hangup` causes), by uniqueid.
    pub hangup_causes: Arc<dyn HangupCauseStore>,
    /// IVR flows, their DID routes and the IVR CDR.
    pub ivr: crate::core::ivr::IvrService,
    /// How the PBX names devices and channels (a phone's device, the endpoint of a channel).
    pub naming: Arc<dyn ChannelNaming>,
    /// What the fields of the PBX's queue activity lines mean.
    pub queue_log: Arc<dyn QueueLogLayout>,
    /// The PBX services, set once AMI is up ([`Services::attach_pbx`]).
    pub pbx_slot: PbxSlot,
}

/// Where the [`PbxServices`] are kept once AMI is up (empty until then).
#[derive(Default)]
pub struct PbxSlot(OnceLock<PbxServices>);

impl Services {
    /// Attaches the PBX services (once; later calls are ignored).
    pub fn attach_pbx(&self, pbx: PbxServices) {
        let _ = self.pbx_slot.0.set(pbx);
    }

    /// The PBX services, once AMI has connected.
    pub fn pbx(&self) -> Option<&PbxServices> {
        self.pbx_slot.0.get()
    }

    /// A report context at `now` with the PBX's naming and queue line layout.
    pub fn report_context(&self, now: UnixTime) -> ReportContext {
        ReportContext::new(now, self.naming.clone(), self.queue_log.clone())
    }
}
