//! [`SqliteCampaigns`]: the core's [`CampaignStore`] port on the engine's SQLite file (tables
//! `blacklist`, `campaign_call`, `call_disposition`), with its own connection beside the
//! journal's.

use std::path::Path;

use rusqlite::{params, OptionalExtension, Row};

use crate::core::campaigns::{
    BlacklistEntry, BlacklistKey, CampaignCall, CampaignName, CampaignScope, CampaignStore, Day,
    DirectionScope, DispositionAction, DispositionRecord, DispositionRequest,
};
use crate::core::originate::{Extension, OriginateId, PhoneNumber};
use crate::core::recordings::Guid;
use crate::core::PortError;
use crate::core::UnixTime;

use super::connection::SharedConnection;
use super::error::{bad, StoreError};

/// The campaign tables in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteCampaigns {
    conn: SharedConnection,
}

impl SqliteCampaigns {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }
}

/// The blacklist entries for `phone` (any campaign, any direction), read on `conn` (also
/// inside the dialer's claim transaction).
pub(super) fn blacklist_entries(
    conn: &rusqlite::Connection,
    phone: &PhoneNumber,
) -> rusqlite::Result<Vec<BlacklistEntry>> {
    conn.prepare_cached(
        "SELECT phone, campaign, direction, expire_date, username, company, job_title, \
         name FROM blacklist WHERE phone = ?1 ORDER BY campaign, direction",
    )?
    .query_map([phone.as_str()], blacklist_row)?
    .collect()
}

fn blacklist_row(r: &Row<'_>) -> rusqlite::Result<BlacklistEntry> {
    let phone: String = r.get(0)?;
    let campaign: String = r.get(1)?;
    let direction: String = r.get(2)?;
    let expire: Option<String> = r.get(3)?;
    Ok(BlacklistEntry {
        phone: PhoneNumber::parse(&phone).map_err(|_| bad("phone", &phone))?,
        campaign: CampaignScope::parse(&campaign).ok_or_else(|| bad("campaign", &campaign))?,
        direction: DirectionScope::parse(&direction).ok_or_else(|| bad("direction", &direction))?,
        expire_date: match expire {
            Some(d) => Some(Day::parse(&d).ok_or_else(|| bad("expire_date", &d))?),
            None => None,
        },
        username: r.get(4)?,
        company: r.get(5)?,
        job_title: r.get(6)?,
        name: r.get(7)?,
    })
}

const CALL_COLUMNS: &str =
    "guid, originate_id, campaign, agent, phone, destination, data, form, created";

fn call_row(r: &Row<'_>) -> rusqlite::Result<CampaignCall> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let guid = text(0)?;
    let id = text(1)?;
    let campaign = text(2)?;
    let phone = text(4)?;
    let destination = text(5)?;
    Ok(CampaignCall {
        guid: Guid::parse(&guid).ok_or_else(|| bad("guid", &guid))?,
        originate_id: OriginateId::parse(&id).map_err(|_| bad("originate id", &id))?,
        campaign: CampaignName::parse(&campaign).ok_or_else(|| bad("campaign", &campaign))?,
        agent: text(3)?,
        phone: Extension::parse(&phone).map_err(|_| bad("phone", &phone))?,
        destination: PhoneNumber::parse(&destination)
            .map_err(|_| bad("destination", &destination))?,
        data: text(6)?,
        form: text(7)?,
        created: UnixTime(r.get(8)?),
    })
}

impl CampaignStore for SqliteCampaigns {
    fn blacklist_add(&self, entries: &[BlacklistEntry], at: UnixTime) -> Result<(), PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO blacklist (phone, campaign, direction, expire_date, \
                     username, company, job_title, name, added_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for e in entries {
                    stmt.execute(params![
                        e.phone.as_str(),
                        e.campaign.as_str(),
                        e.direction.as_str(),
                        e.expire_date.as_ref().map(Day::as_str),
                        e.username,
                        e.company,
                        e.job_title,
                        e.name,
                        at.seconds()
                    ])?;
                }
            }
            tx.commit()
        })
    }

    fn blacklist_remove(&self, keys: &[BlacklistKey]) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction()?;
            let mut removed = 0u64;
            for k in keys {
                let n = match k.direction {
                    Some(d) => tx.execute(
                        "DELETE FROM blacklist WHERE phone = ?1 AND campaign = ?2 AND direction = ?3",
                        params![k.phone.as_str(), k.campaign.as_str(), d.as_str()],
                    )?,
                    None => tx.execute(
                        "DELETE FROM blacklist WHERE phone = ?1 AND campaign = ?2",
                        params![k.phone.as_str(), k.campaign.as_str()],
                    )?,
                };
                removed += n as u64;
            }
            tx.commit()?;
            Ok(removed)
        })
    }

    fn blacklist_for(&self, phone: &PhoneNumber) -> Result<Vec<BlacklistEntry>, PortError> {
        self.conn.query(|conn| blacklist_entries(conn, phone))
    }

    fn blacklist_inbound(&self) -> Result<Vec<BlacklistEntry>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "SELECT phone, campaign, direction, expire_date, username, company, job_title, \
                 name FROM blacklist WHERE direction IN ('I', 'IO') ORDER BY phone, campaign",
            )?
            .query_map([], blacklist_row)?
            .collect()
        })
    }

    fn call_insert(&self, c: &CampaignCall) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO campaign_call ({CALL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                c.guid.as_str(),
                c.originate_id.as_str(),
                c.campaign.as_str(),
                c.agent,
                c.phone.as_str(),
                c.destination.as_str(),
                c.data,
                c.form,
                c.created.seconds()
            ])?;
            Ok(())
        })
    }

    fn call_by_guid(&self, guid: &Guid) -> Result<Option<CampaignCall>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CALL_COLUMNS} FROM campaign_call WHERE guid = ?1"
            ))?
            .query_row([guid.as_str()], call_row)
            .optional()
        })
    }

    fn calls_by_originate(&self, ids: &[String]) -> Result<Vec<CampaignCall>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CALL_COLUMNS} FROM campaign_call WHERE originate_id = ?1"
            ))?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(c) = stmt.query_row([id], call_row).optional()? {
                    out.push(c);
                }
            }
            Ok(out)
        })
    }

    fn disposition_insert(&self, d: &DispositionRecord) -> Result<(), PortError> {
        let q = &d.request;
        self.conn.query(|conn| {
            conn.prepare_cached(
                "INSERT INTO call_disposition (guid, campaign, agent, callerid, l1, l2, l3, d1, \
                 d2, comment, schedule, camptoreschedule, tag, action, txtcode, pending_dialer, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?
            .execute(params![
                q.guid.trim(),
                q.campaign.trim(),
                q.agent.trim(),
                q.callerid.trim(),
                q.l1.trim(),
                q.l2.trim(),
                q.l3.trim(),
                q.d1,
                q.d2,
                q.comment,
                q.schedule.trim(),
                q.camptoreschedule,
                q.tag,
                d.action.as_str(),
                d.txtcode,
                d.pending_dialer,
                d.at.seconds()
            ])?;
            Ok(())
        })
    }

    fn dispositions_of(&self, guid: &str) -> Result<Vec<DispositionRecord>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "SELECT guid, campaign, agent, callerid, l1, l2, l3, d1, d2, comment, schedule, \
                 camptoreschedule, tag, action, txtcode, pending_dialer, at \
                 FROM call_disposition WHERE guid = ?1 ORDER BY id",
            )?
            .query_map([guid], |r| {
                let action: String = r.get(13)?;
                Ok(DispositionRecord {
                    request: DispositionRequest {
                        guid: r.get(0)?,
                        campaign: r.get(1)?,
                        agent: r.get(2)?,
                        callerid: r.get(3)?,
                        l1: r.get(4)?,
                        l2: r.get(5)?,
                        l3: r.get(6)?,
                        d1: r.get(7)?,
                        d2: r.get(8)?,
                        comment: r.get(9)?,
                        schedule: r.get(10)?,
                        camptoreschedule: r.get(11)?,
                        tag: r.get(12)?,
                    },
                    action: DispositionAction::parse(&action)
                        .ok_or_else(|| bad("action", &action))?,
                    txtcode: r.get(14)?,
                    pending_dialer: r.get(15)?,
                    at: UnixTime(r.get(16)?),
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blacklist_calls_and_dispositions_round_trip() {
        let dir = crate::test_support::TempDir::new("campaigns");
        let s = SqliteCampaigns::open(&dir.path().join("s.db")).unwrap();
        let phone = PhoneNumber::parse("5551234").unwrap();
        let camp = CampaignName::parse("Cobranza->").unwrap();
        let mut e = BlacklistEntry::new(phone.clone(), CampaignScope::One(camp.clone()));
        e.expire_date = Day::parse("2030-01-01");
        e.name = "Ana".into();
        let mut all = BlacklistEntry::new(phone.clone(), CampaignScope::All);
        all.direction = DirectionScope::Inbound;
        s.blacklist_add(&[e.clone(), all.clone()], UnixTime(10))
            .unwrap();
        // Adding again replaces.
        s.blacklist_add(&[e.clone()], UnixTime(11)).unwrap();
        let got = s.blacklist_for(&phone).unwrap();
        assert_eq!(got, vec![all.clone(), e.clone()]);
        let removed = s
            .blacklist_remove(&[BlacklistKey {
                phone: phone.clone(),
                campaign: CampaignScope::All,
                direction: Some(DirectionScope::Outbound),
            }])
            .unwrap();
        assert_eq!(removed, 0);
        let removed = s
            .blacklist_remove(&[BlacklistKey {
                phone: phone.clone(),
                campaign: CampaignScope::One(camp.clone()),
                direction: None,
            }])
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(s.blacklist_for(&phone).unwrap(), vec![all]);

        let id = OriginateId::parse("19a2b3c4d5e-5f0e1d2c").unwrap();
        let call = CampaignCall {
            guid: crate::core::campaigns::call_guid(&id),
            originate_id: id.clone(),
            campaign: camp,
            agent: "ana".into(),
            phone: Extension::parse("1007").unwrap(),
            destination: phone,
            data: "{\"a\":1}".into(),
            form: "https://crm/x".into(),
            created: UnixTime(12),
        };
        s.call_insert(&call).unwrap();
        assert_eq!(s.call_by_guid(&call.guid).unwrap(), Some(call.clone()));
        assert_eq!(
            s.calls_by_originate(&[id.to_string(), "nope".into()])
                .unwrap(),
            vec![call.clone()]
        );
        let d = DispositionRecord {
            request: DispositionRequest {
                guid: call.guid.to_string(),
                campaign: "Cobranza->".into(),
                l1: "Venta".into(),
                ..Default::default()
            },
            action: DispositionAction::Respool,
            txtcode: "V1".into(),
            pending_dialer: true,
            at: UnixTime(13),
        };
        s.disposition_insert(&d).unwrap();
        assert_eq!(s.dispositions_of(call.guid.as_str()).unwrap(), vec![d]);
    }
}
