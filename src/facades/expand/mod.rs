//! The eXpand SOAP webservice (`/apiws/2/apiws.php`).

pub mod config;

use std::sync::Arc;

use axum::Router;

use crate::app::Services;
use crate::facades::auth::KeyVerifier;

/// The facade's routes.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Router {
    let _ = (services, keys);
    Router::new()
}
