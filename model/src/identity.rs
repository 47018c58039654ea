//! Resident identity numbers (GB 11643) and the masking of identifiers.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// An 18-character resident identity number with a valid check digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdNumber(String);

impl IdNumber {
    /// Validates length, digits, the embedded birth date and the check digit.
    /// A lower-case `x` check character is accepted and upper-cased.
    pub fn new(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 18 || !s.is_ascii() {
            return Err(Error::IdNumber("must be 18 characters"));
        }
        let (body, check) = s.split_at(17);
        if !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::IdNumber("first 17 characters must be digits"));
        }
        let y: i32 = body[6..10]
            .parse()
            .map_err(|_| Error::IdNumber("bad birth year"))?;
        let m: u32 = body[10..12]
            .parse()
            .map_err(|_| Error::IdNumber("bad birth month"))?;
        let d: u32 = body[12..14]
            .parse()
            .map_err(|_| Error::IdNumber("bad birth day"))?;
        if NaiveDate::from_ymd_opt(y, m, d).is_none() {
            return Err(Error::IdNumber("embedded birth date is not a date"));
        }
        let expected = Self::check_char(body);
        if !check.starts_with(expected) {
            return Err(Error::IdNumber("check digit does not match"));
        }
        Ok(Self(s))
    }

    /// The check character for the first 17 digits (GB 11643, ISO 7064 MOD 11-2).
    pub fn check_char(body17: &str) -> char {
        let sum: u32 = body17
            .bytes()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        CHECK[(sum % 11) as usize]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date embedded in the number.
    pub fn birth_date(&self) -> NaiveDate {
        let b = &self.0;
        // validated in `new`
        NaiveDate::parse_from_str(&b[6..14], "%Y%m%d").unwrap_or_default()
    }

    /// `3209**********1234`: region prefix and last four kept.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

/// Debug never prints a full identity number, so it cannot leak into logs.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// `138****0000`: first three and last four kept; short values are fully masked.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_and_mask() {
        let body = "32090219800101123";
        let full = format!("{body}{}", IdNumber::check_char(body));
        let id = IdNumber::new(&full).unwrap();
        assert_eq!(id.masked(), format!("3209**********{}", &full[14..]));
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1980, 1, 1).unwrap()
        );
        assert!(!format!("{id:?}").contains(&full));
        // a wrong check digit is refused
        let wrong = if full.ends_with('0') {
            format!("{body}1")
        } else {
            format!("{body}0")
        };
        assert!(IdNumber::new(&wrong).is_err());
        assert!(IdNumber::new("3209021980010112").is_err());
        assert!(IdNumber::new("32090219801301123X").is_err());
    }

    #[test]
    fn known_number_with_x() {
        // GB 11643 worked example
        assert!(IdNumber::new("11010519491231002x").is_ok());
    }

    #[test]
    fn phone_mask() {
        assert_eq!(mask_phone("13800001234"), "138****1234");
        assert_eq!(mask_phone("12345"), "*****");
    }
}
