//! The one mapping from core failures to eXpand REST's answers: an HTTP status and a JSON body
//! `{"errrorCode": "<code>"}` (the vendor's spelling, three `r`s, kept so clients that read it
//! find it).
//!
//! | failure | status | `errrorCode` |
//! |---|---|---|
//! | bad input (JSON, ids, filters, fields, dates) | 400 | `Unknown_data_format` (documented) |
//! | a pending call's `queue` or `agent` unknown | 400 | `Invalid_queue`, `Invalid_agent` ("Cola invalida, Agente invalido") |
//! | missing or wrong credentials | 401 | `Authentication_failure` |
//! | unknown campaign, contact, pending call or path | 404 | `Campaign_not_found`, `Contact_not_found`, `Call_not_found`, `Not_found` |
//! | unknown list, or key in a list | 404 | `List_not_found`, `Element_not_found` |
//! | method not served on a path | 405 | `Method_not_allowed` |
//! | another contact of the campaign has the number | 409 | `Duplicated_number` |
//! | the contact is being dialed (renumber or disable) | 409 | `Contact_in_progress` |
//! | the queue has a pending call to the number | 409 | `Duplicated_number` |
//! | the pending call is not pending any more (edit), or done (delete) | 409 | `Call_not_pending` |
//! | the list has an element with that key ("ya existe un elemento con esa clave") | 409 | `Duplicated_key` |
//! | a store failing, the dialer not built | 503 | `Service_unavailable` (no internals) |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::core::dialer::listing::ListingError;
use crate::core::dialer::schedule::ScheduleError;
use crate::core::dialer::DialerError;
use crate::core::lists::{ListError, ListValueError};
use crate::core::PortError;

/// Why a request was not served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The request is malformed (the vendor's `Unknown_data_format`).
    #[error("unknown data format: {0}")]
    BadInput(&'static str),
    /// No or wrong credentials.
    #[error("authentication failure")]
    Unauthorized,
    /// No such campaign.
    #[error("campaign not found")]
    UnknownCampaign,
    /// No such contact in the campaign.
    #[error("contact not found")]
    UnknownContact,
    /// No such pending call.
    #[error("pending call not found")]
    UnknownCall,
    /// A pending call's queue names no campaign.
    #[error("invalid queue")]
    InvalidQueue,
    /// A pending call's agent is no agent of the engine.
    #[error("invalid agent")]
    InvalidAgent,
    /// The pending call's status forbids the change.
    #[error("call not pending")]
    NotPending,
    /// No such list.
    #[error("list not found")]
    UnknownList,
    /// No such key in the list.
    #[error("element not found")]
    UnknownElement,
    /// The list has an element with the key.
    #[error("duplicated key")]
    DuplicatedKey,
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The method is not served on the path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The number belongs to another contact of the campaign.
    #[error("duplicated number")]
    DuplicatedNumber,
    /// The contact is being dialed.
    #[error("contact in progress")]
    InProgress,
    /// The engine cannot serve it now.
    #[error("service unavailable")]
    Unavailable,
}

impl Failure {
    /// The status and the `errrorCode`.
    pub fn code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadInput(_) => (StatusCode::BAD_REQUEST, "Unknown_data_format"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "Authentication_failure"),
            Self::UnknownCampaign => (StatusCode::NOT_FOUND, "Campaign_not_found"),
            Self::UnknownContact => (StatusCode::NOT_FOUND, "Contact_not_found"),
            Self::UnknownCall => (StatusCode::NOT_FOUND, "Call_not_found"),
            Self::InvalidQueue => (StatusCode::BAD_REQUEST, "Invalid_queue"),
            Self::InvalidAgent => (StatusCode::BAD_REQUEST, "Invalid_agent"),
            Self::NotPending => (StatusCode::CONFLICT, "Call_not_pending"),
            Self::UnknownList => (StatusCode::NOT_FOUND, "List_not_found"),
            Self::UnknownElement => (StatusCode::NOT_FOUND, "Element_not_found"),
            Self::DuplicatedKey => (StatusCode::CONFLICT, "Duplicated_key"),
            Self::NotFound => (StatusCode::NOT_FOUND, "Not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method_not_allowed"),
            Self::DuplicatedNumber => (StatusCode::CONFLICT, "Duplicated_number"),
            Self::InProgress => (StatusCode::CONFLICT, "Contact_in_progress"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service_unavailable"),
        }
    }
}

/// The one mapping from the dialer's listing errors.
pub fn from_listing(e: ListingError) -> Failure {
    match e {
        ListingError::UnknownCampaign(_) => Failure::UnknownCampaign,
        ListingError::UnknownContact(_) => Failure::UnknownContact,
        ListingError::NumberTaken => Failure::DuplicatedNumber,
        ListingError::InProgress(_) => Failure::InProgress,
        ListingError::Invalid(_) => Failure::BadInput("contact"),
        ListingError::Unavailable => Failure::Unavailable,
        ListingError::Store(e) => {
            tracing::warn!(error = %crate::core::error_chain(&*e), "eXpand REST: dialer store failed");
            Failure::Unavailable
        }
    }
}

/// The one mapping from the scheduled calls' errors.
pub fn from_schedule(e: ScheduleError) -> Failure {
    match e {
        ScheduleError::Invalid(_) => Failure::BadInput("call"),
        ScheduleError::ExpiresBeforeDate => Failure::BadInput("expiration"),
        ScheduleError::AlreadySpooled => Failure::DuplicatedNumber,
        ScheduleError::Unknown(_) => Failure::UnknownCall,
        ScheduleError::WrongStatus(..) => Failure::NotPending,
        ScheduleError::Store(e) => {
            tracing::warn!(error = %crate::core::error_chain(&*e), "eXpand REST: schedule store failed");
            Failure::Unavailable
        }
    }
}

/// The one mapping from the dialer's command errors (reading campaigns: only the store fails).
pub fn from_dialer(e: DialerError) -> Failure {
    match e {
        DialerError::UnknownCampaign(_) => Failure::UnknownCampaign,
        e => {
            tracing::warn!(error = %crate::core::error_chain(&e), "eXpand REST: dialer failed");
            Failure::Unavailable
        }
    }
}

/// The one mapping from the lists' errors.
pub fn from_lists(e: ListError) -> Failure {
    match e {
        ListError::Invalid(ListValueError::Name) => Failure::UnknownList,
        ListError::Invalid(ListValueError::Key) => Failure::BadInput("key"),
        ListError::Invalid(ListValueError::Value) => Failure::BadInput("value"),
        ListError::UnknownList => Failure::UnknownList,
        ListError::UnknownKey => Failure::UnknownElement,
        ListError::DuplicateKey | ListError::DuplicateList => Failure::DuplicatedKey,
        ListError::Store(e) => {
            tracing::warn!(error = %crate::core::error_chain(&*e), "eXpand REST: list store failed");
            Failure::Unavailable
        }
    }
}

/// A directory read failing.
pub fn from_directory(e: PortError) -> Failure {
    tracing::warn!(error = %crate::core::error_chain(&*e), "eXpand REST: directory failed");
    Failure::Unavailable
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        json(status, &serde_json::json!({ "errrorCode": code }))
    }
}

/// A 401 with its challenge for `realm`.
pub fn unauthorized(realm: &str) -> Response {
    let mut r = Failure::Unauthorized.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}
