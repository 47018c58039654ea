//! Typed access to the fields of one JSON object that collects every problem
//! instead of stopping at the first.

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use model::{Clock, Feature, LonLat, Timestamp};
use serde_json::{Map, Value};

use crate::FieldProblem;

/// The JSON type name of a value, for "expected X, got Y" messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub(crate) problems: Vec<FieldProblem>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(obj: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            obj,
            prefix: prefix.to_owned(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub(crate) fn problem(&mut self, name: &str, why: impl Into<String>) {
        let field = self.path(name);
        self.problems.push(FieldProblem::new(field, why));
    }

    /// The value of a field; `null` counts as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn missing(&mut self, name: &str) {
        self.problem(name, "required field is missing");
    }

    /// An optional field converted by `f`; a wrong value is a problem even
    /// though the field could have been left out.
    pub(crate) fn opt<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.get(name)?;
        match f(v) {
            Ok(t) => Some(t),
            Err(why) => {
                self.problem(name, why);
                None
            }
        }
    }

    pub(crate) fn req<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        if self.get(name).is_none() {
            self.missing(name);
            return None;
        }
        self.opt(name, f)
    }

    pub(crate) fn req_str(&mut self, name: &str) -> Option<&'a str> {
        if self.get(name).is_none() {
            self.missing(name);
            return None;
        }
        self.opt_str(name)
    }

    pub(crate) fn opt_str(&mut self, name: &str) -> Option<&'a str> {
        let v = self.get(name)?;
        match v {
            Value::String(s) if s.trim().is_empty() => {
                self.problem(name, "must not be empty");
                None
            }
            Value::String(s) => Some(s.as_str()),
            other => {
                let why = format!("expected a string, got {}", json_type(other));
                self.problem(name, why);
                None
            }
        }
    }

    /// A string field converted by `f` (ids, codes, enums).
    pub(crate) fn req_parsed<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.req_str(name)?;
        match f(s) {
            Ok(t) => Some(t),
            Err(why) => {
                self.problem(name, why);
                None
            }
        }
    }

    pub(crate) fn opt_parsed<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.opt_str(name)?;
        match f(s) {
            Ok(t) => Some(t),
            Err(why) => {
                self.problem(name, why);
                None
            }
        }
    }

    pub(crate) fn opt_object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        self.opt(name, |v| {
            v.as_object()
                .ok_or_else(|| format!("expected an object, got {}", json_type(v)))
        })
    }

    pub(crate) fn req_object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        if self.get(name).is_none() {
            self.missing(name);
            return None;
        }
        self.opt_object(name)
    }

    pub(crate) fn merge(&mut self, other: Fields<'_>) {
        self.problems.extend(other.problems);
    }
}

/// An enum of contract strings, e.g. `use` ∈ `self`, `rent`, ….
pub(crate) fn enum_value<T>(
    s: &str,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
) -> Result<T, String> {
    parse(s).ok_or_else(|| format!("unknown value {s:?} (expected one of {})", expected()))
}

pub(crate) fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| "not a finite number".to_owned()),
        other => Err(format!("expected a number, got {}", json_type(other))),
    }
}

pub(crate) fn integer(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("expected an integer, got {n}")),
        other => Err(format!("expected an integer, got {}", json_type(other))),
    }
}

pub(crate) fn lon_lat(v: &Value) -> Result<LonLat, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected [lon, lat], got {}", json_type(v)))?;
    if arr.len() != 2 {
        return Err(format!("expected [lon, lat], got {} numbers", arr.len()));
    }
    let lon = number(&arr[0]).map_err(|e| format!("lon: {e}"))?;
    let lat = number(&arr[1]).map_err(|e| format!("lat: {e}"))?;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("lon {lon} is outside -180..180"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("lat {lat} is outside -90..90"));
    }
    Ok(LonLat { lon, lat })
}

/// A polygon ring, open or closed; stored closed.
pub(crate) fn polygon(v: &Value) -> Result<Vec<LonLat>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected a list of [lon, lat], got {}", json_type(v)))?;
    let mut ring = Vec::with_capacity(arr.len() + 1);
    for (i, p) in arr.iter().enumerate() {
        ring.push(lon_lat(p).map_err(|e| format!("point {i}: {e}"))?);
    }
    if ring.first() != ring.last() {
        ring.push(ring[0]);
    }
    if ring.len() < 4 {
        return Err("a polygon needs at least 3 distinct points".to_owned());
    }
    Ok(ring)
}

pub(crate) fn string_list(v: &Value) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected a list of strings, got {}", json_type(v)))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Value::String(_) => Err(format!("item {i} is empty")),
            other => Err(format!(
                "item {i}: expected a string, got {}",
                json_type(other)
            )),
        })
        .collect()
}

/// A feature: a JSON array of numbers or base64 of little-endian `f32`.
pub(crate) fn feature(v: &Value, dim: usize) -> Result<Feature, String> {
    let values: Vec<f32> = match v {
        Value::Array(arr) => arr
            .iter()
            .enumerate()
            .map(|(i, x)| {
                number(x)
                    .map(|f| f as f32)
                    .map_err(|e| format!("component {i}: {e}"))
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim()))
                .map_err(|e| format!("not valid base64: {e}"))?;
            if bytes.len() % 4 != 0 {
                return Err(format!(
                    "base64 decodes to {} bytes, not a whole number of f32",
                    bytes.len()
                ));
            }
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        other => {
            return Err(format!(
                "expected an array of numbers or a base64 string, got {}",
                json_type(other)
            ));
        }
    };
    Feature::new(values, dim).map_err(|e| e.to_string())
}

/// Times: RFC 3339 with an offset (or `Z`); without an offset
/// (`2026-11-20T07:31:05`, `2026-11-20 07:31:05`, GA/T 1400's
/// `20261120073105`) the time is read in the deployment's zone.
pub(crate) fn time(s: &str, clock: &Clock) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp::from_datetime(&dt));
    }
    const LOCAL: [&str; 3] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y%m%d%H%M%S",
    ];
    for fmt in LOCAL {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return clock.from_local(naive).map_err(|e| e.to_string());
        }
    }
    Err(format!(
        "{s:?} is not an RFC 3339 time (e.g. 2026-11-20T07:31:05+08:00) or a local time"
    ))
}

/// A date or a time; a bare date is local midnight (registration dates).
pub(crate) fn date_or_time(s: &str, clock: &Clock) -> Result<Timestamp, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return clock
            .from_local(d.and_time(NaiveTime::MIN))
            .map_err(|e| e.to_string());
    }
    time(s, clock).map_err(|_| {
        format!("{s:?} is not a date (YYYY-MM-DD), a local time (YYYY-MM-DD HH:MM:SS) or an RFC 3339 time")
    })
}

pub(crate) fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_offset() {
        let clock = Clock::default();
        let a = time("2026-11-20T07:31:05+08:00", &clock).unwrap();
        assert_eq!(time("2026-11-19T23:31:05Z", &clock).unwrap(), a);
        assert_eq!(time("2026-11-20T07:31:05", &clock).unwrap(), a);
        assert_eq!(time("2026-11-20 07:31:05", &clock).unwrap(), a);
        assert_eq!(time("20261120073105", &clock).unwrap(), a);
        assert_eq!(
            time("2026-11-19T23:31:05.250Z", &clock).unwrap().0,
            a.0 + 250
        );
        assert!(time("yesterday", &clock).is_err());
        assert!(time("2026-13-20T07:31:05+08:00", &clock).is_err());
    }
}
