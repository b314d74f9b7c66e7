//! The composition root: the one place that names concrete adapters and wires them to the
//! core and the facades.
//!
//! - [`App::build`] opens the store, starts ingestion (CDRs, queue_log, the recordings
//!   catalogue) and builds the facades' [`Services`];
//! - [`App::router`] is the HTTP surface (`/healthz` and every facade);
//! - [`App::run`] serves it on a listener, starts the FastAGI server the dialplan asks about
//!   inbound callers (when campaigns are configured) and drives the PBX side ([`pbx`]: the
//!   first AMI connection through a [`PbxConnector`], the services that need it, the event
//!   loop) until shutdown, then stops HTTP, FastAGI and ingestion in order.
//!
//! `main.rs` is the command line only; tests build the same [`App`] over a fake AMI.

mod health;
mod pbx;
mod services;
pub mod tts;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use health::EngineHealth;
pub use pbx::{AmiConnector, ConnectFuture, PbxConnector};
pub use services::{facade_sections, open_services};

use crate::asterisk::ami::{ActionError, AmiError};
use crate::asterisk::ingest::{AfterPoll, IngestError, IngestHandle};
use crate::config::Config;
use crate::core::error_chain;
use crate::core::recordings::Cataloguer;
use crate::facades::{self, Services};
use crate::http;
use crate::recording_media::MediaCodecs;
use crate::store::{SqliteJournal, SqliteRecordings, StoreError};

/// Why the engine could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened.
    #[error("store")]
    Store(#[from] StoreError),
    /// Ingestion could not start.
    #[error("ingestion")]
    Ingest(#[from] IngestError),
    /// AMI refused the engine (credentials) or failed at logoff.
    #[error("AMI")]
    Ami(#[from] AmiError),
    /// The originate service could not start (its first `DeviceStateList`).
    #[error("originate service")]
    Originate(#[from] ActionError),
    /// The HTTP listener failed.
    #[error("HTTP")]
    Http(#[from] std::io::Error),
    /// The FastAGI listener (`[agi] bind`) could not be bound.
    #[error("FastAGI")]
    Agi(#[source] std::io::Error),
}

/// The whole engine, built and not yet running.
pub struct App {
    config: Arc<Config>,
    connector: Arc<dyn PbxConnector>,
    services: Arc<Services>,
    health: EngineHealth,
    ingest: IngestHandle,
}

impl App {
    /// Opens the store named by `config`, starts ingestion (it runs whether or not AMI is up)
    /// and builds the facades' services; the PBX side starts in [`App::run`], through
    /// `connector`.
    pub fn build(config: Arc<Config>, connector: Arc<dyn PbxConnector>) -> Result<Self, AppError> {
        let node = config.primary_node();
        let store = SqliteJournal::open(&config.store.path)?;
        info!(path = %config.store.path.display(), "store open");
        // The recordings catalogue follows the journal on the ingestion thread.
        let cataloguer = Cataloguer::new(
            Arc::new(SqliteRecordings::open(&config.store.path)?),
            Arc::new(MediaCodecs),
            &node.recordings_dir,
        );
        let catalogue: AfterPoll =
            Box::new(move || cataloguer.run_once().map(drop).map_err(|e| error_chain(&e)));
        let ingest = IngestHandle::spawn_with_hook(store, node.ingest_settings(), Some(catalogue))?;
        let health = EngineHealth::new(
            ingest.progress(),
            Duration::from_secs(config.http.max_ingest_lag_seconds),
        );
        let services = Arc::new(open_services(config.clone())?);
        Ok(Self {
            config,
            connector,
            services,
            health,
            ingest,
        })
    }

    /// What the facades reach the core through (the PBX part once [`App::run`] has connected).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The `/healthz` probe.
    pub fn health(&self) -> &EngineHealth {
        &self.health
    }

    /// `/healthz` and every facade, behind the HTTP limits of the configuration.
    pub fn router(&self) -> Router {
        http::router(
            Arc::new(self.health.clone()),
            facades::router(self.services.clone(), facade_sections(&self.config)),
            self.config.http.limits(),
        )
    }

    /// Starts the webhooks' follower and deliveries when endpoints are configured.
    fn start_webhooks(
        &self,
    ) -> Result<Option<crate::core::webhook_delivery::WebhookTasks>, AppError> {
        let endpoints = self.config.webhooks.endpoints();
        if endpoints.is_empty() {
            return Ok(None);
        }
        let service = crate::core::webhook_delivery::WebhookService::new(
            Arc::new(crate::store::SqliteWebhooks::open(&self.config.store.path)?),
            Arc::new(crate::webhooks_http::HttpWebhookSender),
            endpoints,
            self.config.webhooks.policy(),
            Arc::new(crate::webhooks_http::encode_event),
        );
        Ok(Some(service.spawn()))
    }

    /// Starts the IVR runtime when the primary node has ARI.
    fn start_ivr(&self) -> Option<crate::asterisk::ivr_runtime::IvrRuntime> {
        use crate::asterisk::ivr_runtime::{IvrRuntime, IvrRuntimeParts, NoLookups};
        use crate::core::ivr::IvrLookup;
        let ari = self.config.primary_node().ari.as_ref()?;
        let client =
            crate::asterisk::ari::AriClient::new(&ari.url, &ari.username, ari.secret.clone())?;
        let policy = match self.config.outbound.policy() {
            Ok(p) => Arc::new(p),
            Err((field, reason)) => {
                warn!(field, reason, "IVR not started: outbound policy unusable");
                return None;
            }
        };
        let tts = match tts::prompt_cache(&self.config.tts) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                warn!(error = %error_chain(&e), "IVR: no text to speech, TTS prompts are skipped");
                None
            }
        };
        // The site's named lookup backends (`[ivr.backends.<name>]`); none: every lookup
        // takes the flow's error path.
        let backends = self.config.ivr.backends();
        let lookup: Arc<dyn IvrLookup> = if backends.is_empty() {
            Arc::new(NoLookups)
        } else {
            match crate::ivr_http::HttpIvrLookup::new(&backends) {
                Ok(l) => Arc::new(l),
                Err(e) => {
                    warn!(backend = %e.0, "IVR: lookup backend unusable, lookups take the flows' error paths");
                    Arc::new(NoLookups)
                }
            }
        };
        info!(
            backends = backends.len(),
            "IVR runtime starting (ARI application centralita-ivr)"
        );
        Some(IvrRuntime::spawn(IvrRuntimeParts {
            client,
            ivr: self.services.ivr.clone(),
            tts,
            voice: self.config.tts.voice.clone(),
            rate: self.config.tts.rate,
            lookup,
            lists: Arc::new(self.services.lists.clone()),
            policy,
        }))
    }

    /// Serves [`App::router`] on `listener` and runs the PBX side until `shutdown` resolves (or
    /// AMI closes for good); then stops HTTP, then ingestion (its last poll completes).
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), AppError> {
        info!(addr = %listener.local_addr()?, "HTTP listening");
        let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let http_task = tokio::spawn(http::run(
            listener,
            self.router(),
            self.config.http.limits(),
            async {
                let _ = http_stopped.await;
            },
        ));
        // Uploads accepted before a stop are imported from where they were.
        if let Err(e) = self
            .services
            .dialer
            .resume_uploads(crate::core::UnixTime::now())
            .await
        {
            warn!(error = %e, "dialer: unfinished uploads not resumed");
        }
        // The customer's backend (eXpand's external webservices), when the site has one.
        let webservices = self.config.expand_webservices.as_ref().map(|w| {
            let settings = w.settings();
            crate::core::expand_ws::ExpandWebservices::new(
                Arc::new(crate::expand_ws::HttpWsBackend::new(settings.clone())),
                settings.timeout,
            )
        });
        // The dialplan asks the engine whether an inbound caller is blacklisted (with
        // campaigns, which own the blacklist) and for the caller's name (with a backend), over
        // FastAGI.
        let mut agi_settings = self.config.agi.settings();
        if let Some(ws) = &webservices {
            agi_settings.script_timeout = agi_settings
                .script_timeout
                .max(ws.timeout() + Duration::from_millis(250));
        }
        // The IVR: inbound calls routed to a flow run it over ARI (when the node has ARI).
        let ivr = self.start_ivr();
        let agi = crate::asterisk::fastagi::spawn_scripts_with_ivr(
            self.config.agi.bind,
            agi_settings,
            crate::asterisk::fastagi::BlacklistScript::new(
                self.services.campaigns.clone(),
                self.config.engine.time_zone(),
            ),
            webservices
                .clone()
                .map(crate::asterisk::fastagi::CallerNameScript::new),
            ivr.as_ref().map(|r| {
                crate::asterisk::fastagi::IvrRouteScript::new(self.services.ivr.clone(), r.ready())
            }),
        )
        .await
        .map_err(AppError::Agi)?;
        // Webhooks: the journal's and the dialer's facts into the outbox, delivered.
        let webhooks = self.start_webhooks()?;
        let result = pbx::run(
            &self.config,
            self.connector.as_ref(),
            &self.ingest,
            &self.health,
            &self.services,
            webservices.as_ref(),
            shutdown,
        )
        .await;
        info!("shutting down");
        let _ = http_stop.send(());
        if let Ok(Err(e)) = http_task.await {
            warn!(error = %e, "HTTP server ended with an error");
        }
        if let Some(agi) = agi {
            agi.abort();
        }
        if let Some(w) = webhooks {
            w.stop();
        }
        if let Some(r) = ivr {
            r.stop();
        }
        self.ingest.shutdown().await;
        result
    }
}
