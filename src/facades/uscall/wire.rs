//! USCall's wire formats, as pure functions: the JSON text every answer carries in the SOAP
//! `return` part (`{"status":"ok","retorno":...}` or `{"status":"erro","codigo":...,
//! "retorno":"<mensagem>"}`), dates (`YYYY-MM-DD HH:MM:SS` in the call center's zone), durations
//! (`HH:MM:SS`), the Portuguese names of call kinds and statuses, of agents' and extensions'
//! presence and of the ccenterMetrics reports, and the reading of the documented parameter
//! values (`yes`, `tipo`, `formato`).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Value};

use crate::core::call_summary::{CallKind, CallStatus};
use crate::core::journal::{TimeRange, UnixTime};
use crate::core::presence::{AgentPresence, ExtensionPresence};
use crate::core::recordings::ServeFormat;

/// A successful answer.
pub fn ok(retorno: Value) -> String {
    json!({ "status": "ok", "retorno": retorno }).to_string()
}

/// An error answer: a stable code and a message for people.
pub fn error(codigo: &str, mensagem: &str) -> String {
    json!({ "status": "erro", "codigo": codigo, "retorno": mensagem }).to_string()
}

/// `YYYY-MM-DD HH:MM:SS` of `t` in `tz`.
pub fn datetime(t: UnixTime, tz: &TimeZone) -> String {
    match Timestamp::from_second(t.seconds()) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// Reads `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DD HH:MM`, or a bare `YYYY-MM-DD` at 00:00:00)
/// in `tz`.
pub fn parse_datetime(text: &str, tz: &TimeZone) -> Option<UnixTime> {
    let text = text.trim();
    let civil = DateTime::strptime("%Y-%m-%d %H:%M:%S", text)
        .or_else(|_| DateTime::strptime("%Y-%m-%d %H:%M", text))
        .or_else(|_| jiff::civil::Date::strptime("%Y-%m-%d", text).map(|d| d.at(0, 0, 0, 0)))
        .ok()?;
    let zoned = civil.to_zoned(tz.clone()).ok()?;
    Some(UnixTime(zoned.timestamp().as_second()))
}

/// Why a date range was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `dataini` is not a date.
    Start,
    /// `datafin` is not a date.
    End,
    /// `datafin` is before `dataini`.
    Order,
}

/// The range of `dataini`/`datafin` (both inclusive, to the second): absent values default to
/// today (in `tz`, at `now`) 00:00:00 and 23:59:59.
pub fn date_range(
    dataini: Option<&str>,
    datafin: Option<&str>,
    tz: &TimeZone,
    now: UnixTime,
) -> Result<TimeRange, RangeError> {
    let today = Timestamp::from_second(now.seconds())
        .map(|t| t.to_zoned(tz.clone()).date())
        .map_err(|_| RangeError::Start)?;
    let at = |h, m, s| {
        today
            .at(h, m, s, 0)
            .to_zoned(tz.clone())
            .map(|z| UnixTime(z.timestamp().as_second()))
    };
    let from = match dataini {
        Some(s) => parse_datetime(s, tz).ok_or(RangeError::Start)?,
        None => at(0, 0, 0).map_err(|_| RangeError::Start)?,
    };
    let to = match datafin {
        Some(s) => parse_datetime(s, tz).ok_or(RangeError::End)?,
        None => at(23, 59, 59).map_err(|_| RangeError::End)?,
    };
    if to < from {
        return Err(RangeError::Order);
    }
    // TimeRange is half-open: the end second is included.
    Ok(TimeRange::new(from, UnixTime(to.seconds() + 1)))
}

/// `HH:MM:SS` (hours may exceed 24).
pub fn hms(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The documented name of a call kind.
pub fn tipo(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Inbound => "Recebida",
        CallKind::Outbound => "Efetuada",
        CallKind::Internal => "Interna",
        CallKind::ClickToCall => "Click to call",
        CallKind::Dialer => "Discador",
    }
}

/// The documented name of a call status.
pub fn status(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Completed => "COMPLETADA",
        CallStatus::NoAnswer => "NÃO ATENDIDA",
        CallStatus::Transferred => "TRANSFERENCIA",
        CallStatus::Busy => "OCUPADO",
        CallStatus::Abandoned => "ABANDONO",
        CallStatus::Unavailable => "TELEFONE INDISPONIVEL",
        CallStatus::EmptyQueue => "FILA VAZIA",
        CallStatus::Ringing => "CHAMANDO",
        CallStatus::Answered => "ATENDIDO",
    }
}

/// A yes/no flag (`agente`): absent is no; `yes`/`sim`/`1`/`true` and `no`/`nao`/`não`/`0`/
/// `false`, any case. `None`: not a flag.
pub fn flag(value: Option<&str>) -> Option<bool> {
    match value.map(|v| v.trim().to_lowercase()) {
        None => Some(false),
        Some(v) => match v.as_str() {
            "" | "no" | "nao" | "não" | "0" | "false" => Some(false),
            "yes" | "sim" | "1" | "true" => Some(true),
            _ => None,
        },
    }
}

/// `formato` of audioDownload: absent is WAV (16-bit, 8000 Hz).
pub fn audio_format(value: Option<&str>) -> Option<ServeFormat> {
    value.map_or(Some(ServeFormat::Wav8k), ServeFormat::parse)
}

/// Standard base64 (RFC 4648, with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The reports ccenterMetrics answers, with their descriptions.
pub const METRICS_REPORTS: &[(&str, &str)] = &[
    (
        "filas",
        "Por fila: oferecidas, atendidas, abandonadas, tempo esgotado, nível de serviço, espera e conversação médias",
    ),
    (
        "agentes",
        "Por agente: tempos logado, em pausa, disponível e falando; ligações apresentadas, atendidas, perdidas e efetuadas",
    ),
    (
        "atividade",
        "Eventos das filas em ordem (entrada, atendimento, abandono, login, pausa...)",
    ),
];

/// The Portuguese name of an agent's presence (agentStatus' `status`).
pub fn agent_status(presence: AgentPresence) -> &'static str {
    match presence {
        AgentPresence::Paused => "em pausa",
        AgentPresence::Busy => "ocupado",
        AgentPresence::Ringing => "tocando",
        AgentPresence::Idle => "ocioso",
        AgentPresence::ExtensionDown => "ramal inoperante",
        AgentPresence::Unknown => "desconhecido",
        AgentPresence::LoginError => "erro login",
        AgentPresence::NotLoggedIn => "nao logado",
    }
}

/// The Portuguese name of an extension's presence (extenStatus' `status`).
pub fn extension_status(presence: ExtensionPresence) -> &'static str {
    match presence {
        ExtensionPresence::Available => "disponível",
        ExtensionPresence::Unavailable => "indisponível",
        ExtensionPresence::Busy => "ocupado",
        ExtensionPresence::Ringing => "tocando",
        ExtensionPresence::Dialing => "discando",
    }
}

/// The name shown for an extension no agent owns ("Ramal 1001").
pub fn extension_name(ext: &str) -> String {
    format!("Ramal {ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").unwrap()
    }

    #[test]
    fn answers_are_json_with_retorno() {
        let v: Value = serde_json::from_str(&ok(json!([{"num": "2204"}]))).unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["retorno"][0]["num"], "2204");
        let e: Value = serde_json::from_str(&error("token_invalido", "Token inválido")).unwrap();
        assert_eq!(e["status"], "erro");
        assert_eq!(e["codigo"], "token_invalido");
        assert_eq!(e["retorno"], "Token inválido");
    }

    #[test]
    fn dates_in_the_call_centers_zone() {
        // 2026-11-22 12:00:00 UTC is 09:00:00 in São Paulo (UTC-3, no DST).
        let t = UnixTime(1_795_348_800);
        assert_eq!(datetime(t, &tz()), "2026-11-22 09:00:00");
        assert_eq!(parse_datetime("2026-11-22 09:00:00", &tz()), Some(t));
        assert_eq!(parse_datetime(" 2026-11-22 09:00 ", &tz()), Some(t));
        assert_eq!(
            parse_datetime("2026-11-22", &tz()),
            Some(UnixTime(t.0 - 9 * 3600))
        );
        for bad in [
            "",
            "22/11/2026",
            "2026-13-01 00:00:00",
            "2026-11-22 25:00:00",
            "x",
        ] {
            assert_eq!(parse_datetime(bad, &tz()), None, "{bad}");
        }
    }

    #[test]
    fn ranges_default_to_today() {
        let now = UnixTime(1_795_348_800);
        let r = date_range(None, None, &tz(), now).unwrap();
        assert_eq!(datetime(r.from, &tz()), "2026-11-22 00:00:00");
        assert_eq!(datetime(UnixTime(r.to.0 - 1), &tz()), "2026-11-22 23:59:59");
        let r = date_range(Some("2026-11-01 10:00:00"), None, &tz(), now).unwrap();
        assert_eq!(datetime(r.from, &tz()), "2026-11-01 10:00:00");
        assert_eq!(
            date_range(Some("nope"), None, &tz(), now),
            Err(RangeError::Start)
        );
        assert_eq!(
            date_range(None, Some("2026-11-22 99"), &tz(), now),
            Err(RangeError::End)
        );
        assert_eq!(
            date_range(
                Some("2026-11-23 00:00:00"),
                Some("2026-11-22 00:00:00"),
                &tz(),
                now
            ),
            Err(RangeError::Order)
        );
    }

    #[test]
    fn base64_of_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn durations_names_and_flags() {
        assert_eq!(hms(0), "00:00:00");
        assert_eq!(hms(3725), "01:02:05");
        assert_eq!(hms(-5), "00:00:00");
        assert_eq!(hms(100 * 3600), "100:00:00");
        assert_eq!(tipo(CallKind::ClickToCall), "Click to call");
        assert_eq!(tipo(CallKind::Dialer), "Discador");
        assert_eq!(status(CallStatus::NoAnswer), "NÃO ATENDIDA");
        assert_eq!(status(CallStatus::Ringing), "CHAMANDO");
        assert_eq!(status(CallStatus::Answered), "ATENDIDO");
        assert_eq!(status(CallStatus::Unavailable), "TELEFONE INDISPONIVEL");
        assert_eq!(status(CallStatus::EmptyQueue), "FILA VAZIA");
        assert_eq!(flag(None), Some(false));
        assert_eq!(flag(Some("YES")), Some(true));
        assert_eq!(flag(Some("no")), Some(false));
        assert_eq!(flag(Some("talvez")), None);
        assert_eq!(audio_format(None), Some(ServeFormat::Wav8k));
        assert_eq!(audio_format(Some("MP3")), Some(ServeFormat::Mp3));
        assert_eq!(audio_format(Some("flac")), None);
    }
}
