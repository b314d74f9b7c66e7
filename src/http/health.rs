//! `GET /healthz`: is the engine connected to Asterisk, and how far behind is the journal?
//!
//! Answers 200 with `"status": "ok"` when AMI is connected and ingestion has completed a poll
//! within the allowed lag, otherwise 503 with `"status": "degraded"` and the reasons. The report
//! never contains secrets or internal error chains beyond a short reason.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// What the engine knows about its own health at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// AMI is logged in.
    pub ami_connected: bool,
    /// How many times AMI has (re)connected since start; 0 before the first connection.
    pub ami_generation: u64,
    /// Seconds since ingestion last drained every source; `None` before its first poll.
    pub ingest_lag_seconds: Option<f64>,
    /// The ingestion's last error, if its last poll failed.
    pub ingest_error: Option<String>,
    /// How late the last AMI event was processed (now minus its `Timestamp`), in seconds;
    /// `None` before the first event.
    pub event_lag_seconds: Option<f64>,
}

/// The source of health reports (the wiring in `main` implements it over the AMI client's
/// connection state and the ingestor's progress).
pub trait HealthProbe: Send + Sync {
    /// The current report.
    fn report(&self) -> HealthReport;
    /// The largest ingestion lag still considered healthy.
    fn max_lag(&self) -> Duration;
}

/// A probe that always gives the same report: for the router run without a PBX (the fast
/// tier, benches over a fake AMI).
#[derive(Clone, Debug)]
pub struct FixedHealth {
    /// The report given.
    pub report: HealthReport,
    /// The largest healthy ingestion lag.
    pub max_lag: Duration,
}

impl FixedHealth {
    /// AMI connected (generation 1), ingestion 0.1 s behind, no event lag; 10 s allowed.
    pub fn healthy() -> Self {
        Self {
            report: HealthReport {
                ami_connected: true,
                ami_generation: 1,
                ingest_lag_seconds: Some(0.1),
                ingest_error: None,
                event_lag_seconds: None,
            },
            max_lag: Duration::from_secs(10),
        }
    }
}

impl HealthProbe for FixedHealth {
    fn report(&self) -> HealthReport {
        self.report.clone()
    }
    fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

#[derive(Serialize)]
struct Body {
    status: &'static str,
    problems: Vec<&'static str>,
    #[serde(flatten)]
    report: HealthReport,
}

pub(crate) fn routes(probe: Arc<dyn HealthProbe>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(probe)
}

async fn healthz(State(probe): State<Arc<dyn HealthProbe>>) -> Response {
    let report = probe.report();
    let mut problems = Vec::new();
    if !report.ami_connected {
        problems.push("ami_disconnected");
    }
    match report.ingest_lag_seconds {
        None => problems.push("ingest_not_started"),
        Some(lag) if lag > probe.max_lag().as_secs_f64() => problems.push("ingest_lagging"),
        Some(_) => {}
    }
    if report.ingest_error.is_some() {
        problems.push("ingest_error");
    }
    if matches!(report.event_lag_seconds, Some(lag) if lag > probe.max_lag().as_secs_f64()) {
        problems.push("events_lagging");
    }
    let (code, status) = if problems.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    (
        code,
        Json(Body {
            status,
            problems,
            report,
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{router, HttpLimits};
    use axum::body::{to_bytes, Body as AxumBody};
    use axum::http::Request;
    use tower::ServiceExt;

    fn healthy() -> HealthReport {
        HealthReport {
            ami_connected: true,
            ami_generation: 1,
            ingest_lag_seconds: Some(0.4),
            ingest_error: None,
            event_lag_seconds: Some(0.01),
        }
    }

    async fn get_healthz(report: HealthReport) -> (StatusCode, serde_json::Value) {
        let app = router(
            Arc::new(FixedHealth {
                report,
                max_lag: Duration::from_secs(5),
            }),
            Router::new(),
            HttpLimits::with_body_limit(1024),
        );
        let resp = app
            .oneshot(Request::get("/healthz").body(AxumBody::empty()).unwrap())
            .await
            .unwrap();
        let code = resp.status();
        let bytes = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (code, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn healthz_cases() {
        let cases: Vec<(HealthReport, u16, &str, Vec<&str>)> = vec![
            (healthy(), 200, "ok", vec![]),
            (
                HealthReport {
                    ami_connected: false,
                    ..healthy()
                },
                503,
                "degraded",
                vec!["ami_disconnected"],
            ),
            (
                HealthReport {
                    ingest_lag_seconds: Some(12.0),
                    ..healthy()
                },
                503,
                "degraded",
                vec!["ingest_lagging"],
            ),
            (
                HealthReport {
                    ingest_lag_seconds: None,
                    ..healthy()
                },
                503,
                "degraded",
                vec!["ingest_not_started"],
            ),
            (
                HealthReport {
                    ingest_error: Some("queue_log unreadable".into()),
                    ..healthy()
                },
                503,
                "degraded",
                vec!["ingest_error"],
            ),
        ];
        for (report, code, status, problems) in cases {
            let (got_code, body) = get_healthz(report.clone()).await;
            assert_eq!(got_code.as_u16(), code, "{report:?}");
            assert_eq!(body["status"], status, "{report:?}");
            let got: Vec<&str> = body["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got, problems, "{report:?}");
            assert_eq!(body["ami_connected"], report.ami_connected);
        }
    }

    #[tokio::test]
    async fn unknown_path_is_404_and_wrong_method_is_405() {
        let app = router(
            Arc::new(FixedHealth {
                report: healthy(),
                max_lag: Duration::from_secs(5),
            }),
            Router::new(),
            HttpLimits::with_body_limit(16),
        );
        let resp = app
            .clone()
            .oneshot(Request::get("/nope").body(AxumBody::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        // /healthz is GET only
        let resp = app
            .oneshot(
                Request::post("/healthz")
                    .body(AxumBody::from(vec![b'x'; 64]))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
