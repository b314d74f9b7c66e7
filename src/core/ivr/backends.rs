//! The operator's named lookup backends (`[ivr.backends.<name>]`): their settings and the
//! rules every answer goes through before it reaches a flow, whatever the wire.
//!
//! A flow names a backend ([`BackendName`]); the settings alone say where the engine
//! connects. Params sent are bounded ([`bounded_params`]); an answer's fields are bounded in
//! count and size, named in the IVR's variable alphabet and cleaned of control characters
//! ([`fields_of_answer`]).

use std::time::Duration;

use super::model::BackendName;
use crate::core::Secret;

/// The longest limit a backend may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);
/// The limit when the operator sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);
/// The answer size when the operator sets none.
pub const DEFAULT_MAX_ANSWER: usize = 16 * 1024;
/// The largest answer size an operator may set.
pub const MAX_ANSWER: usize = 1024 * 1024;
/// The most params sent.
pub const MAX_PARAMS: usize = 32;
/// The most characters of a param's value sent.
pub const MAX_PARAM_CHARS: usize = 1024;
/// The most fields kept of an answer.
pub const MAX_FIELDS: usize = 64;
/// The most characters of a field's value kept.
pub const MAX_FIELD_CHARS: usize = 1024;
/// The longest field name kept (a variable's bound).
pub const MAX_FIELD_NAME: usize = 32;

/// How params travel to an HTTP backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET path?name=value&...`.
    Get,
    /// `POST path` with an `application/x-www-form-urlencoded` body.
    PostForm,
    /// `POST path` with a JSON object of strings.
    PostJson,
}

/// What kind of backend a name stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The customer's HTTP service answering a JSON object.
    Http {
        /// How params travel.
        method: Method,
        /// The fixed path after the base URL (`/clientes/buscar`).
        path: String,
        /// The most bytes of the answer's body.
        max_answer: usize,
        /// An optional header (name, secret value) sent with every request.
        header: Option<(String, Secret)>,
    },
    /// eXpand's `IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)` (REST form): its string
    /// answer is appended to IVRData.
    ExpandIvrCode,
}

/// One named backend, validated by the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendSettings {
    /// The name flows use.
    pub name: BackendName,
    /// The base URL (`http://host[:port][/prefix]`).
    pub url: String,
    /// Each request's limit (connect, send, answer).
    pub timeout: Duration,
    /// The kind.
    pub kind: BackendKind,
}

fn clean(raw: &str, max: usize) -> String {
    raw.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The params as sent: at most [`MAX_PARAMS`], values cleaned of control characters and cut
/// at [`MAX_PARAM_CHARS`].
pub fn bounded_params(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .take(MAX_PARAMS)
        .map(|(n, v)| (clean(n, 64), clean(v, MAX_PARAM_CHARS)))
        .collect()
}

fn field_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FIELD_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fields of an answer's JSON text: a JSON object whose scalar members (strings, numbers,
/// booleans) named `[A-Za-z0-9_]` (≤ 32) become fields, values cleaned and cut; other members
/// are skipped, at most [`MAX_FIELDS`] kept. `None` (a failed lookup) when the answer is not a
/// JSON object.
pub fn fields_of_answer(body: &[u8]) -> Option<Vec<(String, String)>> {
    let serde_json::Value::Object(members) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let fields = members
        .iter()
        .filter(|(name, _)| field_name_ok(name))
        .filter_map(|(name, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((name.clone(), clean(&text, MAX_FIELD_CHARS)))
        })
        .take(MAX_FIELDS)
        .collect();
    Some(fields)
}

/// IVRData after an IVRCode answer: the current value with the answer appended, as the eXpand
/// guide says ("el string devuelto es anexado al IVRData"), cut at [`MAX_FIELD_CHARS`].
pub fn appended_ivr_data(current: &str, answer: &str) -> String {
    clean(&format!("{current}{answer}"), MAX_FIELD_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_bounded_clean_fields() {
        let f = fields_of_answer(
            br#"{"nome":"Ana\u0000\nL","saldo":12.5,"vip":true,"x":null,"o":{"a":1},"a":[1],"bad-name":"z","CTI_INFO1":"ok"}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            vec![
                ("CTI_INFO1".into(), "ok".into()),
                ("nome".into(), "AnaL".into()),
                ("saldo".into(), "12.5".into()),
                ("vip".into(), "true".into()),
            ]
        );
        assert_eq!(fields_of_answer(b"[1,2]"), None);
        assert_eq!(fields_of_answer(b"\"Ana\""), None);
        assert_eq!(fields_of_answer(b"<html>"), None);
        let many: serde_json::Map<String, serde_json::Value> = (0..200)
            .map(|i| {
                (
                    format!("f{i:03}"),
                    serde_json::Value::String("x".repeat(5000)),
                )
            })
            .collect();
        let f = fields_of_answer(&serde_json::to_vec(&many).unwrap()).unwrap();
        assert_eq!(f.len(), MAX_FIELDS);
        assert!(f.iter().all(|(_, v)| v.chars().count() == MAX_FIELD_CHARS));
    }

    #[test]
    fn params_and_ivr_data_are_bounded() {
        let many: Vec<(String, String)> = (0..100)
            .map(|i| (format!("p{i}"), format!("a\r\nb{}", "y".repeat(3000))))
            .collect();
        let b = bounded_params(&many);
        assert_eq!(b.len(), MAX_PARAMS);
        assert!(b[0].1.starts_with("ab") && b[0].1.chars().count() == MAX_PARAM_CHARS);
        assert_eq!(appended_ivr_data("|menu=1", "|vip\n=2"), "|menu=1|vip=2");
    }
}
