//! The `blacklist` script: the dialplan's `to-queue` asks, before a caller enters a queue,
//! `AGI(agi://<engine>/blacklist,<queue>,<number>)` (the queue of the DID, possibly empty, and
//! the caller's number cut to digits and `+`). The engine answers `SET VARIABLE BL_LISTED 1`
//! when the campaigns' rule ([`refuses_inbound`]) refuses the call today, `0` otherwise,
//! and nothing when the store cannot be read (the dialplan then lets the caller in: it fails
//! open, and logs it).

use tracing::{info, warn};

#[cfg(doc)]
use crate::core::campaigns::refuses_inbound;
use crate::core::campaigns::{CampaignService, Day};
use crate::core::directory::QueueName;
use crate::core::originate::PhoneNumber;
use crate::core::{PortError, UnixTime};

use super::codec::{AgiRequest, VariableName};
use super::server::{Answer, Script, ScriptFuture};

/// The script's name: the path of its `agi://` URL.
pub const SCRIPT: &str = "blacklist";

/// The channel variable answered: `1` listed (refuse), `0` not listed.
pub const LISTED_VARIABLE: &str = "BL_LISTED";

/// Today in `tz`, as a blacklist [`Day`].
fn today(tz: &jiff::tz::TimeZone) -> Option<Day> {
    let ts = jiff::Timestamp::from_second(UnixTime::now().seconds()).ok()?;
    Day::parse(&ts.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string())
}

/// The inbound blacklist check, asked of the campaigns' service.
pub struct BlacklistScript {
    campaigns: CampaignService,
    tz: jiff::tz::TimeZone,
}

impl BlacklistScript {
    /// Checks callers with `campaigns` (their store and configuration), days in `tz` (the
    /// call center's).
    pub fn new(campaigns: CampaignService, tz: jiff::tz::TimeZone) -> Self {
        Self { campaigns, tz }
    }

    /// Whether there is any campaign (without one, no entry refuses anybody).
    pub fn has_campaigns(&self) -> bool {
        !self.campaigns.campaigns().is_empty()
    }

    /// Whether a call from `number` to `queue` (empty: none) is refused. A number that is not
    /// one (empty, too long) is never listed; a queue that is not a name counts as none.
    pub async fn refuses(&self, queue: &str, number: &str) -> Result<bool, PortError> {
        let Ok(number) = PhoneNumber::parse(number) else {
            return Ok(false);
        };
        let queue = QueueName::new(queue).ok();
        let today = today(&self.tz).ok_or("no date in the call center's time zone")?;
        self.campaigns
            .refuses_inbound(queue.as_ref(), &number, &today)
            .await
    }
}

impl Script for BlacklistScript {
    fn answer<'a>(&'a self, request: &'a AgiRequest) -> ScriptFuture<'a> {
        Box::pin(async move {
            let (queue, number) = (request.arg(1), request.arg(2));
            let listed = match self.refuses(queue, number).await {
                Ok(listed) => listed,
                Err(e) => {
                    warn!(
                        queue,
                        number,
                        error = %e,
                        "inbound blacklist not readable: the caller goes on unchecked"
                    );
                    return Answer::new();
                }
            };
            if listed {
                info!(
                    queue,
                    number,
                    uniqueid = request.field("agi_uniqueid"),
                    "inbound caller blacklisted: refused"
                );
            }
            VariableName::new(LISTED_VARIABLE)
                .map(|name| (name, if listed { "1" } else { "0" }.to_owned()))
                .into_iter()
                .collect()
        })
    }
}
