//! Identifier newtypes the engine passes between layers: AMI action ids, Asterisk unique ids and
//! channel names.
//!
//! They are plain carriers of the value Asterisk (or the engine) chose; the adapter that writes
//! them to the wire validates them against its own alphabet.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the value.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The `ActionID` that correlates an AMI action with its response and list events. Unique
    /// per AMI session; chosen by the engine.
    ActionId
);

string_id!(
    /// An Asterisk channel `Uniqueid` (e.g. `1700000000.42`, or a value the engine pre-assigned
    /// through `Originate`'s `ChannelId`).
    UniqueId
);

string_id!(
    /// An Asterisk channel name, e.g. `PJSIP/1001-00000001` or `Local/1001@agents-00000002;1`.
    ChannelName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_display() {
        let id = UniqueId::new("1700000000.42");
        assert_eq!(id.as_str(), "1700000000.42");
        assert_eq!(id.to_string(), "1700000000.42");
        assert_eq!(
            ChannelName::from("PJSIP/1001-1").into_inner(),
            "PJSIP/1001-1"
        );
        assert_ne!(ActionId::from("1"), ActionId::from("2"));
    }
}
