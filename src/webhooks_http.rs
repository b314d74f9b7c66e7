//! The webhooks' wire edge: an event's JSON body ([`encode_event`]) and the
//! [`WebhookSender`] port over the engine's HTTP client ([`HttpWebhookSender`]).
//!
//! Body: `{"id": "<event key>", "event": "call.offered", "occurred_at": <unix seconds>,
//! "data": {"<field>": "<value>", ...}}`, at most [`MAX_BODY_BYTES`] (longer values are cut).

use crate::core::webhooks::{Post, WebhookEvent, WebhookSender, MAX_BODY_BYTES};
use crate::core::BoxFuture;
use crate::http_client::{exchange, post_request, HttpUrl};

/// The most of an endpoint's answer read (its body is not used).
const MAX_ANSWER: usize = 64 * 1024;

fn body(event: &WebhookEvent, cut: Option<usize>) -> Vec<u8> {
    let mut data = serde_json::Map::new();
    for (name, value) in &event.fields {
        let value = match cut {
            Some(n) => value.chars().take(n).collect(),
            None => value.clone(),
        };
        data.insert((*name).to_owned(), serde_json::Value::String(value));
    }
    let doc = serde_json::json!({
        "id": event.key.as_str(),
        "event": event.kind.name(),
        "occurred_at": event.at.seconds(),
        "data": data,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The JSON body of `event`, bounded.
pub fn encode_event(event: &WebhookEvent) -> Vec<u8> {
    let whole = body(event, None);
    if whole.len() <= MAX_BODY_BYTES {
        return whole;
    }
    let per_field = MAX_BODY_BYTES / event.fields.len().max(1) / 8;
    body(event, Some(per_field))
}

/// POSTs over plain HTTP/1.1, one connection per try.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpWebhookSender;

impl WebhookSender for HttpWebhookSender {
    fn post<'a>(&'a self, post: Post<'a>) -> BoxFuture<'a, Result<u16, String>> {
        Box::pin(async move {
            let url = HttpUrl::parse(post.url).ok_or("the URL is not usable")?;
            let request = post_request(&url, &post.headers, post.body);
            match exchange(&url, &request, MAX_ANSWER, post.timeout).await {
                Ok(answer) => Ok(answer.status),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::webhooks::queue_log_event;

    #[test]
    fn bodies_are_json_and_bounded() {
        let e = queue_log_event(
            7,
            1_700_000_000,
            "1700000000.12",
            "q_ventas",
            "NONE",
            "ENTERQUEUE",
            Some("|099123456|1"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&encode_event(&e)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": "queue_log-7", "event": "call.offered",
                "occurred_at": 1_700_000_000i64,
                "data": {"queue_event": "ENTERQUEUE", "uniqueid": "1700000000.12",
                         "queue": "q_ventas", "caller": "099123456"}})
        );
        let mut big = e.clone();
        big.fields.push(("caller", "x".repeat(100_000)));
        assert!(encode_event(&big).len() <= MAX_BODY_BYTES);
    }
}
