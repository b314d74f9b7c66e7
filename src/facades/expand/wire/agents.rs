//! Agent documents: totals, user info, times, session details, logins.

use super::*;

/// One `agentData` line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentTotals {
    /// `(number) Full Name`.
    pub agente: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Average handling time of answered queue calls.
    pub average: f64,
    /// Seconds talking on queue calls.
    pub talked: i64,
    /// Seconds talking on outbound calls.
    pub talked_out: i64,
    /// Seconds available.
    pub available: i64,
    /// Queue calls answered.
    pub answered: u64,
    /// Queue calls missed.
    pub missed: u64,
    /// Queue calls presented.
    pub presented: u64,
    /// Outbound calls.
    pub outbound: u64,
    /// Inbound (queue) calls taken.
    pub inbound: u64,
    /// Inbound calls transferred.
    pub transferred: u64,
    /// Short answered calls.
    pub short: u64,
    /// Mean talk over answered queue and outbound calls.
    pub average_all: f64,
}

/// `agentData`'s `<agents>`.
pub fn agent_totals_xml(list: &[AgentTotals]) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        empty(
            &mut out,
            1,
            "agent",
            &[
                ("agente", &a.agente),
                ("logueado", &hms(a.logged)),
                ("logueadoSeg", &a.logged.to_string()),
                ("pausado", &hms(a.paused)),
                ("pausadoSeg", &a.paused.to_string()),
                ("promedio", &hms(a.average.round() as i64)),
                ("promedioSeg", &decimal(a.average)),
                ("hablado", &hms(a.talked)),
                ("habladoSeg", &a.talked.to_string()),
                ("habladoSaliente", &hms(a.talked_out)),
                ("habladoSalienteSeg", &a.talked_out.to_string()),
                ("disponible", &hms(a.available)),
                ("disponibleSeg", &a.available.to_string()),
                ("atendidas", &a.answered.to_string()),
                ("perdidas", &a.missed.to_string()),
                ("presentadas", &a.presented.to_string()),
                ("salientes", &a.outbound.to_string()),
                ("entrantes", &a.inbound.to_string()),
                ("entrantesTransferidas", &a.transferred.to_string()),
                ("atendidasCortas", &a.short.to_string()),
                ("promedioEntranteYSaliente", &decimal(a.average_all)),
            ],
        );
    }
    end(&mut out, 0, "agents");
    out
}

/// A user as `getAgentLoggedInfo` and `getUserInfo` show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// Full name.
    pub nombre: String,
    /// Email.
    pub email: String,
    /// Profile.
    pub perfil: String,
    /// Supervisor.
    pub supervisor: bool,
    /// User name.
    pub user: String,
    /// Agent number.
    pub number: String,
    /// The extension it is logged in from.
    pub extension: String,
}

/// `getAgentLoggedInfo`'s `<agentAgent>`.
pub fn agent_logged_xml(u: &UserInfo) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agentAgent", &[]);
    empty(
        &mut out,
        1,
        "user",
        &[
            ("nombre", &u.nombre),
            ("email", &u.email),
            ("logueado", "1"),
            ("agente", &u.user),
            ("nroAgente", &u.number),
            ("extension", &u.extension),
        ],
    );
    end(&mut out, 0, "agentAgent");
    out
}

/// `getUserInfo`'s `<userInfo>` (every user of the directory is an agent).
pub fn user_info_xml(u: &UserInfo) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "userInfo", &[]);
    empty(
        &mut out,
        1,
        "user",
        &[
            ("nombre", &u.nombre),
            ("email", &u.email),
            ("perfil", &u.perfil),
            ("supervisor", if u.supervisor { "1" } else { "0" }),
            ("agente", "1"),
            ("nroAgente", &u.number),
        ],
    );
    end(&mut out, 0, "userInfo");
    out
}

/// One agent of `getAgentTimes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentTimes {
    /// Number.
    pub number: String,
    /// User name.
    pub user: String,
    /// Full name.
    pub name: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Its queues: name and description.
    pub queues: Vec<(String, String)>,
}

/// `getAgentTimes`' `<agents>`.
pub fn agent_times_xml(list: &[AgentTimes]) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        start(
            &mut out,
            1,
            "agent",
            &[
                ("agent", &a.number),
                ("user", &a.user),
                ("name", &a.name),
                ("loged", &a.logged.to_string()),
                ("paused", &a.paused.to_string()),
            ],
        );
        for (name, description) in &a.queues {
            empty(
                &mut out,
                2,
                "queueagent",
                &[("name", name), ("description", description)],
            );
        }
        end(&mut out, 1, "agent");
    }
    end(&mut out, 0, "agents");
    out
}

/// One pause of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPause {
    /// Reason name.
    pub kind: String,
    /// Start.
    pub start: UnixTime,
    /// End.
    pub end: UnixTime,
}

/// One session in one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSession {
    /// Start.
    pub start: UnixTime,
    /// End (the report's end when still open).
    pub end: UnixTime,
    /// Its pauses.
    pub pauses: Vec<SessionPause>,
}

/// One queue of an agent's `agentSessionDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDetail {
    /// Queue.
    pub queue: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Seconds per pause reason name.
    pub pauses: Vec<(String, i64)>,
    /// Sessions.
    pub sessions: Vec<QueueSession>,
}

/// One agent of `agentSessionDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentDetail {
    /// User name.
    pub user: String,
    /// Number.
    pub number: String,
    /// Per queue.
    pub queues: Vec<QueueDetail>,
}

/// `agentSessionDetail`'s `<agents>`.
pub fn session_detail_xml(list: &[AgentDetail], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        start(
            &mut out,
            1,
            "agent",
            &[("userID", &a.user), ("agentID", &a.number)],
        );
        for q in &a.queues {
            start(
                &mut out,
                2,
                "queue",
                &[
                    ("queuename", &q.queue),
                    ("logged", &q.logged.to_string()),
                    ("paused", &q.paused.to_string()),
                ],
            );
            start(&mut out, 3, "pauses", &[]);
            for (kind, secs) in &q.pauses {
                empty(
                    &mut out,
                    4,
                    "pause",
                    &[("type", kind), ("duration", &secs.to_string())],
                );
            }
            end(&mut out, 3, "pauses");
            start(&mut out, 3, "sessions", &[]);
            for s in &q.sessions {
                start(
                    &mut out,
                    4,
                    "session",
                    &[
                        ("start", &format_date(s.start, tz)),
                        ("end", &format_date(s.end, tz)),
                        ("duration", &(s.end.0 - s.start.0).to_string()),
                    ],
                );
                for p in &s.pauses {
                    empty(
                        &mut out,
                        5,
                        "pause",
                        &[
                            ("type", &p.kind),
                            ("start", &format_date(p.start, tz)),
                            ("end", &format_date(p.end, tz)),
                            ("duration", &(p.end.0 - p.start.0).to_string()),
                        ],
                    );
                }
                end(&mut out, 4, "session");
            }
            end(&mut out, 3, "sessions");
            end(&mut out, 2, "queue");
        }
        end(&mut out, 1, "agent");
    }
    end(&mut out, 0, "agents");
    out
}

/// A queue of an extension in `getAgentLogin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginQueue {
    /// Queue.
    pub name: String,
    /// Description.
    pub description: String,
    /// Since when the member is logged in (`None`: unknown).
    pub logged_at: Option<UnixTime>,
    /// Paused there.
    pub paused: bool,
    /// The pause reason's name.
    pub pause_type: String,
}

/// The agent of an extension in `getAgentLogin`, with its state (the vendor's second example).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAgent {
    /// Agent number.
    pub number: String,
    /// User name.
    pub user: String,
    /// Full name.
    pub name: String,
    /// Logged in to some queue.
    pub logged: bool,
    /// Since when (its earliest login in force; `None`: unknown).
    pub logged_at: Option<UnixTime>,
    /// Paused (in every queue it is in).
    pub paused: bool,
    /// That pause's reason name.
    pub pause_type: String,
}

/// One extension of `getAgentLogin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionLogin {
    /// The extension.
    pub number: String,
    /// The agent logged in from it.
    pub agent: Option<LoginAgent>,
    /// The agent's queues.
    pub queues: Vec<LoginQueue>,
}

/// `getAgentLogin`'s `<extensions>`.
pub fn agent_login_xml(list: &[ExtensionLogin], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "extensions", &[]);
    for e in list {
        start(
            &mut out,
            1,
            "extension",
            &[
                ("number", &e.number),
                ("channelType", "PJSIP"),
                ("channelId", &e.number),
            ],
        );
        if let Some(a) = &e.agent {
            let date = a.logged_at.map(|t| format_date(t, tz)).unwrap_or_default();
            empty(
                &mut out,
                2,
                "agent",
                &[
                    ("number", &a.number),
                    ("user", &a.user),
                    ("name", &a.name),
                    ("is_logged", bool_text(a.logged)),
                    ("logged_date", &date),
                    ("is_paused", bool_text(a.paused)),
                    ("pause_type", &a.pause_type),
                ],
            );
        }
        for q in &e.queues {
            let date = q.logged_at.map(|t| format_date(t, tz)).unwrap_or_default();
            empty(
                &mut out,
                2,
                "queue",
                &[
                    ("name", &q.name),
                    ("description", &q.description),
                    ("is_logged", "true"),
                    ("logged_date", &date),
                    ("is_paused", bool_text(q.paused)),
                    ("pause_type", &q.pause_type),
                ],
            );
        }
        end(&mut out, 1, "extension");
    }
    end(&mut out, 0, "extensions");
    out
}
