//! The vendor APIs, one folder each with the same shape:
//!
//! - `mod.rs`: the routes, the operation dispatch and the helpers the operations share;
//! - `ops/`: the operations, one file per area;
//! - `config.rs`: the facade's section of the configuration (wire details only; the core
//!   features' settings are the engine's own sections), which it alone is handed
//!   ([`FacadeSections`]); no facade reads the configuration itself or another's section;
//! - `wire.rs` (or `wire/`, one file per area): decoding requests and encoding answers in the
//!   vendor's formats;
//! - `errors.rs`: the one mapping from core errors to the vendor's codes, and the vendor's
//!   error texts;
//! - `tests.rs` (or `tests/`, one file per area).
//!
//! [`Services`] is what they reach the core through (built by `app`). [`soap`] holds what the SOAP facades share (envelope, faults, WSDL serving); [`auth`] the
//! API-key check they all use; [`client_addr`] the client address of a request (trusted proxies
//! only). Facades translate wire ⇄ core and hold no business rules.

pub mod auth;
pub mod client_addr;
pub mod expand;
pub mod expand_rest;
pub mod services;
pub mod soap;
pub mod ucontact;
pub mod uscall;

use std::sync::Arc;

use axum::Router;

pub use services::{PbxServices, PbxSlot, Services};

/// Each facade's own section of the configuration, handed to it alone by the composition
/// root (`app`): no facade reads another vendor's section.
#[derive(Clone, Debug, Default)]
pub struct FacadeSections {
    /// `[expand]`.
    pub expand: expand::config::ExpandConfig,
    /// `[uscall]`.
    pub uscall: uscall::config::UscallConfig,
    /// `[ucontact]`.
    pub ucontact: ucontact::config::UcontactConfig,
    /// `[expand_rest]`.
    pub expand_rest: expand_rest::config::ExpandRestConfig,
}

/// Every facade's routes over `services`, each with its own section.
pub fn router(services: Arc<Services>, sections: FacadeSections) -> Router {
    let keys = Arc::new(auth::KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    Router::new()
        .merge(expand::routes(
            services.clone(),
            keys.clone(),
            sections.expand,
        ))
        .merge(uscall::routes(
            services.clone(),
            keys.clone(),
            sections.uscall,
        ))
        .merge(expand_rest::routes(
            services.clone(),
            keys.clone(),
            sections.expand_rest,
        ))
        .merge(ucontact::routes(services, keys, sections.ucontact))
}

#[cfg(test)]
mod tests;
