//! The operations, one file per area: [`campaigns`] (list, one), [`contacts`] (add, get,
//! edit, list, activity), [`outgoing_calls`] (the pending outgoing calls panel: list, add,
//! get, edit, delete).

pub mod campaigns;
pub mod contacts;
pub mod outgoing_calls;
