//! The model's error type: a value that breaks a domain rule.

/// A domain rule was broken by a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid identity number: {0}")]
    IdNumber(&'static str),
    #[error("invalid plate: {0}")]
    Plate(&'static str),
    #[error("invalid region code: {0}")]
    RegionCode(&'static str),
    #[error("invalid time: {0}")]
    Time(String),
    #[error("invalid feature: {0}")]
    Feature(String),
    #[error("invalid id: {0}")]
    Id(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
