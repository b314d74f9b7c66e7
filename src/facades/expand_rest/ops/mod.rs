//! The operations, one file per area: [`campaigns`] (list, one), [`contacts`] (add, get,
//! edit, list, activity).

pub mod campaigns;
pub mod contacts;
