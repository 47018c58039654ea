//! Ids as newtypes, so a person id can never be passed where a house id is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The longest id accepted, in characters: GA/T 1400 object ids are 48
/// digits and identity numbers 18, so this leaves room for any source's
/// scheme while an id can never be a megabyte of key.
pub const MAX_ID_CHARS: usize = 128;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a non-empty id (surrounding whitespace removed).
            pub fn new(s: &str) -> Result<Self> {
                let s = s.trim();
                if s.is_empty() {
                    return Err(Error::Id("empty"));
                }
                if s.chars().any(char::is_control) {
                    return Err(Error::Id("contains a control character"));
                }
                if s.chars().nth(MAX_ID_CHARS).is_some() {
                    return Err(Error::Id("longer than 128 characters"));
                }
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
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
    /// Platform-wide person key (fixtures use the identity number when known).
    PersonId
);
string_id!(
    /// A dwelling (实有房屋) id.
    HouseId
);
string_id!(
    /// A residential estate (小区) id.
    CommunityId
);
string_id!(
    /// A device id, a 20-digit GA/T 1400 style code in the field.
    DeviceId
);
string_id!(
    /// An event id, unique per source; re-sent duplicates carry the same id.
    EventId
);
string_id!(
    /// An access credential number.
    CardNo
);
string_id!(
    /// An e-bike RFID tag.
    RfidTag
);
string_id!(
    /// A terminal MAC address seen by a WiFi probe.
    Mac
);

/// A normalised licence plate: upper case, without spaces, dots, dashes or the
/// middle dot, so `苏j·12345` and `苏J 12345` are the same vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Plate(String);

impl Plate {
    /// Normalises a plate. `"unknown"` (the contract's value for an unread plate)
    /// is not a plate: callers map it to `None` with [`Plate::parse_optional`].
    pub fn new(s: &str) -> Result<Self> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '.' | '·' | '•' | '-' | '_' | '\u{3000}'))
            .flat_map(char::to_uppercase)
            .collect();
        let n = norm.chars().count();
        if n == 0 {
            return Err(Error::Plate("empty"));
        }
        if !(5..=10).contains(&n) {
            return Err(Error::Plate("length must be 5 to 10 characters"));
        }
        if norm
            .chars()
            .any(|c| c.is_control() || c.is_ascii_punctuation())
        {
            return Err(Error::Plate("contains punctuation"));
        }
        Ok(Self(norm))
    }

    /// `None` for the contract's `"unknown"` (any case), else a normalised plate.
    pub fn parse_optional(s: &str) -> Result<Option<Self>> {
        if s.trim().eq_ignore_ascii_case("unknown") {
            Ok(None)
        } else {
            Self::new(s).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province prefix (first character, e.g. `苏`) and issuing authority
    /// letter, e.g. `苏J`; used by the high-risk-origin model.
    pub fn prefix(&self) -> &str {
        let end = self
            .0
            .char_indices()
            .nth(2)
            .map_or(self.0.len(), |(i, _)| i);
        &self.0[..end]
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_normalise() {
        assert_eq!(Plate::new("苏j·12345").unwrap().as_str(), "苏J12345");
        assert_eq!(Plate::new(" 苏J 123.45 ").unwrap().as_str(), "苏J12345");
        assert_eq!(Plate::new("苏J12345").unwrap().prefix(), "苏J");
        assert_eq!(Plate::parse_optional("Unknown").unwrap(), None);
        assert!(Plate::new("苏").is_err());
        assert!(Plate::new("苏J12$45").is_err());
    }

    #[test]
    fn ids_reject_empty() {
        assert!(PersonId::new("  ").is_err());
        assert_eq!(PersonId::new(" p1 ").unwrap().as_str(), "p1");
    }
}
