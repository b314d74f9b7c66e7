//! The one mapping from what can go wrong to USCall's error answers: [`UscallError`], each with
//! a stable `codigo` and a Portuguese message (`retorno`). Messages never carry internals
//! (store errors, AMI texts); those are logged instead. [`reason`] holds every reason text the
//! operations give (the only Portuguese outside `wire.rs`).

use crate::core::agents::{AgentError, QueueControlError};
use crate::core::call_checks::CallCheckError;
use crate::core::call_commands::CallCommandError;
use crate::core::dialing::DialingError;
use crate::core::originate_service::StartError;
use crate::core::outbound_policy::Refusal;
use crate::core::recordings::RecordingError;

use super::wire;

/// Why a parameter or request was refused, in the Portuguese USCall's answers use (the one
/// place these texts are written; [`UscallError::message`] puts them in `retorno`).
pub mod reason {
    use std::fmt::Display;

    /// `report_type` is neither summary nor detail.
    pub const REPORT_MODE: &str = "use resumo ou detalhado";
    /// `report_name` is not one of the ccenterMetrics reports.
    pub const METRICS_NAME: &str =
        "use um nome de ccenterMetricsReports (filas, agentes, atividade)";
    /// startCall's `tipo` is neither outbound nor clicktocall.
    pub const CALL_TYPE: &str = "use outbound ou clicktocall";
    /// An extension that is not 2 to 10 digits.
    pub const EXTENSION_DIGITS: &str = "o ramal deve ter de 2 a 10 dígitos";
    /// A DDR with other characters than digits.
    pub const DDR_DIGITS: &str = "o DDR deve ter somente dígitos";
    /// A DDR that is not a valid number.
    pub const BAD_DDR: &str = "DDR inválido";
    /// A number that is not a valid phone number.
    pub const BAD_NUMBER: &str = "número inválido";
    /// A value outside its alphabet or length.
    pub const BAD_VALUE: &str = "valor inválido";
    /// A value longer than 64 characters.
    pub const AT_MOST_64_CHARS: &str = "até 64 caracteres";
    /// audioDownload's `formato` is not one served.
    pub const RECORDING_FORMAT: &str = "use mp3, ogg ou wav";
    /// `agente` is neither yes nor no.
    pub const AGENT_FLAG: &str = "use yes para agente";
    /// `tipo` is not a supervision mode.
    pub const SPY_TYPE: &str = "use escuta, monitor ou conf";
    /// The supervisor's extension is the one supervised.
    pub const OTHER_EXTENSION: &str = "deve ser outro ramal que dstramal";
    /// extenStatus' `tipo` is not a list it has.
    pub const EXTENSION_LIST_TYPE: &str = "use callcenter, pbx ou all";
    /// agentLogin's `senhamd5` is not an MD5 digest.
    pub const MD5_PASSWORD: &str = "informe o MD5 da senha (32 dígitos hexadecimais)";
    /// A pause id that is not one of getPauses'.
    pub const PAUSE_ID: &str = "use o id de getPauses";
    /// An agent number outside its alphabet or length.
    pub const AGENT_NAME_CHARS: &str = "use somente letras, dígitos, _ e - (até 32)";
    /// An extension that is not a valid extension name.
    pub const BAD_EXTENSION: &str = "ramal inválido";
    /// A trunk name outside its alphabet or length.
    pub const TRUNK_NAME_CHARS: &str = "use somente letras, dígitos, _ e - (até 64)";
    /// A URA id outside its alphabet or length.
    pub const URA_ID_CHARS: &str = "use até 32 letras, dígitos, _ e -";
    /// An integrator id outside its alphabet or length.
    pub const ID_CHARS: &str = "use até 64 letras, dígitos, _ . : e -";
    /// A date not in USCall's format.
    pub const DATE_FORMAT: &str = "use o formato YYYY-MM-DD HH:MM:SS";
    /// A period that ends before it starts.
    pub const END_AFTER_START: &str = "deve ser posterior a dataini";

    /// The call's trunk (its categoria's) is not a trunk of the PBX.
    pub fn trunk_not_in_pbx(trunk: impl Display) -> String {
        format!("o tronco {trunk} não existe no PBX")
    }

    /// The categoria names a trunk that is not a valid name.
    pub fn categoria_trunk_invalid(categoria: impl Display) -> String {
        format!("o tronco da categoria {categoria} é inválido")
    }

    /// The subject of a message about an agent ("O agente 2001").
    pub fn agent_subject(number: impl Display) -> String {
        format!("O agente {number}")
    }

    /// The subject of a message about an extension ("O ramal 1001").
    pub fn extension_subject(ext: impl Display) -> String {
        format!("O ramal {ext}")
    }

    /// The agent has no key queue and no queue at all.
    pub fn no_key_queue(number: impl Display) -> String {
        format!("o agente {number} não tem fila chave")
    }

    /// The agent is logged in to none of its queues.
    pub fn not_in_its_queues(number: impl Display) -> String {
        format!("o agente {number} não está logado em nenhuma de suas filas")
    }

    /// The agent is not paused.
    pub fn not_paused(number: impl Display) -> String {
        format!("o agente {number} não está em pausa")
    }

    /// A list longer than allowed.
    pub fn too_many_items(max: usize) -> String {
        format!("no máximo {max} itens")
    }

    /// A report period longer than allowed.
    pub fn period_too_long(max_days: impl Display) -> String {
        format!("o período não pode passar de {max_days} dias")
    }
}

/// Why an operation produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UscallError {
    /// The token is missing, unknown, revoked or for another API.
    TokenInvalid,
    /// A required parameter is absent or empty.
    Missing(&'static str),
    /// A parameter's value is unusable.
    Invalid {
        /// The parameter.
        param: &'static str,
        /// Why (Portuguese).
        reason: String,
    },
    /// The thing named does not exist (agent, pause, queue, extension, categoria, DDR,
    /// recording), and its name (empty when none was given).
    NotFound(Noun, String),
    /// The agent's password does not match.
    WrongPassword,
    /// The number breaks the categoria's rules.
    DialRule(String),
    /// The agent is not logged in.
    NotLoggedIn(String),
    /// The extension or agent has no call in progress.
    NoCall(String),
    /// The request is valid but not allowed (a pause reason outside its queues).
    NotAllowed(String),
    /// The PBX is not connected or refused.
    PbxUnavailable,
    /// The engine failed (store); details are logged.
    Internal,
}

/// What was not found: the word the message names it by, with its grammatical gender, so
/// that the message agrees with it ("Pausa x não encontrada", "Ramal 1001 não encontrado").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    /// `Agente` (masculine).
    Agente,
    /// `Pausa` (feminine).
    Pausa,
    /// `Fila` (feminine).
    Fila,
    /// `Ramal` (masculine).
    Ramal,
    /// `Categoria` (feminine).
    Categoria,
    /// `DDR` (masculine).
    Ddr,
    /// `Gravação` (feminine).
    Gravacao,
    /// `URA` (feminine).
    Ura,
}

impl Noun {
    /// The word, capitalised as a message starts.
    pub fn word(self) -> &'static str {
        match self {
            Self::Agente => "Agente",
            Self::Pausa => "Pausa",
            Self::Fila => "Fila",
            Self::Ramal => "Ramal",
            Self::Categoria => "Categoria",
            Self::Ddr => "DDR",
            Self::Gravacao => "Gravação",
            Self::Ura => "URA",
        }
    }

    /// Whether the word is feminine.
    pub fn is_feminine(self) -> bool {
        matches!(
            self,
            Self::Pausa | Self::Fila | Self::Categoria | Self::Gravacao | Self::Ura
        )
    }
}

impl UscallError {
    /// `what` named `name` was not found.
    pub fn not_found(what: Noun, name: impl std::fmt::Display) -> Self {
        Self::NotFound(what, name.to_string())
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TokenInvalid => "token_invalido",
            Self::Missing(_) => "parametro_obrigatorio",
            Self::Invalid { .. } => "parametro_invalido",
            Self::NotFound(..) => "nao_encontrado",
            Self::WrongPassword => "senha_invalida",
            Self::DialRule(_) => "regra_discagem",
            Self::NotLoggedIn(_) => "agente_nao_logado",
            Self::NoCall(_) => "sem_ligacao",
            Self::NotAllowed(_) => "nao_permitido",
            Self::PbxUnavailable => "pbx_indisponivel",
            Self::Internal => "erro_interno",
        }
    }

    /// The message.
    pub fn message(&self) -> String {
        match self {
            Self::TokenInvalid => "Token inválido".to_owned(),
            Self::Missing(p) => format!("Parâmetro obrigatório não informado: {p}"),
            Self::Invalid { param, reason } => format!("Parâmetro inválido: {param}: {reason}"),
            Self::NotFound(noun, name) => {
                let ending = if noun.is_feminine() { "a" } else { "o" };
                match name.as_str() {
                    "" => format!("{} não encontrad{ending}", noun.word()),
                    name => format!("{} {name} não encontrad{ending}", noun.word()),
                }
            }
            Self::WrongPassword => "Senha do agente inválida".to_owned(),
            Self::DialRule(why) => format!("Número recusado pela categoria: {why}"),
            Self::NotLoggedIn(a) => format!("Agente {a} não está logado"),
            Self::NoCall(who) => format!("{who} não tem ligação em curso"),
            Self::NotAllowed(why) => format!("Operação não permitida: {why}"),
            Self::PbxUnavailable => "PBX indisponível no momento; tente novamente".to_owned(),
            Self::Internal => "Erro interno; tente novamente".to_owned(),
        }
    }

    /// The JSON answer.
    pub fn to_json(&self) -> String {
        wire::error(self.code(), &self.message())
    }

    /// `param` is invalid because `reason`.
    pub fn invalid(param: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            param,
            reason: reason.into(),
        }
    }
}

impl From<DialingError> for UscallError {
    fn from(e: DialingError) -> Self {
        let why = match &e {
            DialingError::NotANumber(n) => format!("{n:?} deve ter somente dígitos (e + inicial)"),
            DialingError::NoRule { number, category } => {
                format!("{number} não corresponde a nenhuma regra da categoria {category}")
            }
            DialingError::NotDialable(n) => {
                format!("{n:?} não é discável após as regras (2 a 32 dígitos)")
            }
            DialingError::BadPattern { .. } | DialingError::BadPrefix(_) => {
                return Self::Internal;
            }
        };
        Self::DialRule(why)
    }
}

impl From<StartError> for UscallError {
    /// A number the outbound policy refuses is a `regra_discagem` (like a categoria's rule); a
    /// credential over its calls per minute or in flight is `nao_permitido`.
    fn from(e: StartError) -> Self {
        match e {
            StartError::Refused(r) => match r {
                Refusal::International { number, .. } => Self::DialRule(format!(
                    "{number} é um número internacional não permitido para este token"
                )),
                Refusal::Premium { number, .. } => Self::DialRule(format!(
                    "{number} é um número de tarifa especial não permitido para este token"
                )),
                Refusal::NotAllowed { number, .. } => Self::DialRule(format!(
                    "{number} não é um destino permitido para este token"
                )),
                Refusal::Rate { limit } => {
                    Self::NotAllowed(format!("limite de {limit} ligações por minuto atingido"))
                }
                Refusal::Concurrency { limit } => {
                    Self::NotAllowed(format!("limite de {limit} ligações simultâneas atingido"))
                }
            },
            StartError::Unplaceable(c) => match c {
                CallCheckError::UnknownSource(ext) => Self::not_found(Noun::Ramal, ext),
                CallCheckError::UnknownTrunk(trunk) => {
                    Self::NotAllowed(reason::trunk_not_in_pbx(trunk))
                }
                CallCheckError::DdrNotAllowed(ddr) => Self::not_found(Noun::Ddr, ddr),
            },
            StartError::Store(e) => {
                tracing::warn!(error = %e, "uscall: originate not started");
                Self::Internal
            }
            StartError::NotLinked(_) => Self::Internal,
        }
    }
}

impl From<AgentError> for UscallError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::UnknownAgent(a) => Self::not_found(Noun::Agente, a),
            AgentError::NotAPhone(e) => Self::not_found(Noun::Ramal, e),
            AgentError::NoExtension(_) => Self::Missing("ramal"),
            AgentError::NoQueues(a) => Self::NotAllowed(format!("o agente {a} não tem filas")),
            AgentError::NotAgentsQueue { agent, queue } => {
                Self::NotAllowed(format!("a fila {queue} não é uma fila do agente {agent}"))
            }
            AgentError::UnknownPauseReason(p) => Self::not_found(Noun::Pausa, p),
            AgentError::ReasonNotAllowed { reason, queue } => {
                Self::NotAllowed(format!("a pausa {reason} não é permitida na fila {queue}"))
            }
            AgentError::NotLoggedIn(a) => Self::NotLoggedIn(a.to_string()),
            AgentError::Pbx(QueueControlError::NotMember) => {
                Self::NotAllowed("o agente não é membro da fila".to_owned())
            }
            AgentError::Pbx(QueueControlError::NoSuchQueue) => Self::not_found(Noun::Fila, ""),
            AgentError::Pbx(e) => {
                tracing::warn!(error = %e, "uscall: queue action failed");
                Self::PbxUnavailable
            }
            AgentError::Directory(e) => {
                tracing::warn!(error = %e, "uscall: directory unavailable");
                Self::Internal
            }
        }
    }
}

impl From<CallCommandError> for UscallError {
    fn from(e: CallCommandError) -> Self {
        match e {
            CallCommandError::Invalid(what) => Self::invalid("ramal", what),
            CallCommandError::Refused(why) => {
                tracing::info!(%why, "uscall: the PBX refused a call command");
                Self::NoCall("O ramal".to_owned())
            }
            CallCommandError::Unreachable(e) => {
                tracing::warn!(error = %e, "uscall: PBX unreachable");
                Self::PbxUnavailable
            }
        }
    }
}

impl From<RecordingError> for UscallError {
    fn from(e: RecordingError) -> Self {
        match e {
            RecordingError::NotFound => Self::not_found(Noun::Gravacao, ""),
            RecordingError::Unsupported(what) => {
                Self::NotAllowed(format!("formato indisponível para esta gravação ({what})"))
            }
            other => {
                tracing::warn!(error = %other, "uscall: recording unavailable");
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::AgentNumber;

    #[test]
    fn not_found_messages_agree_with_the_noun() {
        let cases = [
            (
                UscallError::not_found(Noun::Pausa, "cafe"),
                "Pausa cafe não encontrada",
            ),
            (
                UscallError::not_found(Noun::Categoria, "9"),
                "Categoria 9 não encontrada",
            ),
            (
                UscallError::not_found(Noun::Fila, "q_x"),
                "Fila q_x não encontrada",
            ),
            (
                UscallError::not_found(Noun::Gravacao, ""),
                "Gravação não encontrada",
            ),
            (
                UscallError::not_found(Noun::Ramal, "1099"),
                "Ramal 1099 não encontrado",
            ),
            (
                UscallError::not_found(Noun::Agente, "2299"),
                "Agente 2299 não encontrado",
            ),
            (
                UscallError::not_found(Noun::Ddr, "2600"),
                "DDR 2600 não encontrado",
            ),
            (
                UscallError::from(AgentError::Pbx(QueueControlError::NoSuchQueue)),
                "Fila não encontrada",
            ),
            (
                UscallError::from(RecordingError::NotFound),
                "Gravação não encontrada",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.message(), want);
            assert_eq!(e.code(), "nao_encontrado");
        }
    }

    #[test]
    fn every_error_has_a_code_and_a_json_answer() {
        let a = AgentNumber::new("2204").unwrap();
        let cases = [
            (UscallError::TokenInvalid, "token_invalido"),
            (UscallError::Missing("agente"), "parametro_obrigatorio"),
            (UscallError::invalid("tipo", "x"), "parametro_invalido"),
            (
                UscallError::from(AgentError::UnknownAgent(a.clone())),
                "nao_encontrado",
            ),
            (UscallError::WrongPassword, "senha_invalida"),
            (
                UscallError::from(DialingError::NoRule {
                    number: "1".into(),
                    category: "c".into(),
                }),
                "regra_discagem",
            ),
            (
                UscallError::from(AgentError::NotLoggedIn(a)),
                "agente_nao_logado",
            ),
            (UscallError::NoCall("Ramal 1004".into()), "sem_ligacao"),
            (
                UscallError::from(StartError::Refused(Refusal::International {
                    number: "0054911".into(),
                    prefix: "00".into(),
                })),
                "regra_discagem",
            ),
            (
                UscallError::from(StartError::Refused(Refusal::Premium {
                    number: "09001234".into(),
                    prefix: "0900".into(),
                })),
                "regra_discagem",
            ),
            (
                UscallError::from(StartError::Refused(Refusal::Concurrency { limit: 2 })),
                "nao_permitido",
            ),
            (
                UscallError::from(StartError::Refused(Refusal::Rate { limit: 2 })),
                "nao_permitido",
            ),
            (UscallError::NotAllowed("x".into()), "nao_permitido"),
            (UscallError::PbxUnavailable, "pbx_indisponivel"),
            (
                UscallError::from(RecordingError::InvalidTag),
                "erro_interno",
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code);
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(v["status"], "erro");
            assert_eq!(v["codigo"], code);
            assert!(!v["retorno"].as_str().unwrap().is_empty());
        }
    }
}
