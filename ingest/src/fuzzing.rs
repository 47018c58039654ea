//! Harnesses for the parsers, shared by the coverage-guided fuzz targets
//! (`fuzz/`, run by `scripts/fuzz.sh`) and the property tests: bytes in,
//! and an `Err` naming the broken contract when a parser answered wrongly
//! (a panic, running out of memory or time are the fuzzer's to catch).
//!
//! The contract: the JSON Lines parser, the CSV base files and the GA/T
//! 1400 mapper answer any bytes with a record or with problems that each
//! name a field and a reason.

use model::Timestamp;

use crate::{FieldProblem, ParseConfig, gat1400};

/// The parsers' configuration: 4-dimensional features, nothing after 2030.
pub fn parse_config() -> ParseConfig {
    ParseConfig {
        face_dim: 4,
        not_after: Some(Timestamp(1_900_000_000_000)),
        ..ParseConfig::default()
    }
}

fn named(problems: &[FieldProblem], what: &str) -> Result<(), String> {
    if problems.is_empty() {
        return Err(format!("{what}: refused without a problem"));
    }
    for p in problems {
        if p.field.trim().is_empty() || p.why.trim().is_empty() {
            return Err(format!(
                "{what}: a problem without a field or reason: {p:?}"
            ));
        }
    }
    Ok(())
}

/// Every line of the input through the JSON Lines parser (as the intake
/// does: bytes that are not UTF-8 are refused before parsing).
pub fn jsonl(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let cfg = parse_config();
    for (i, line) in text.lines().enumerate() {
        if let Err(problems) = crate::parse_line(line, &cfg) {
            named(&problems, &format!("line {}", i + 1))?;
        }
    }
    Ok(())
}

/// The base-file types the CSV parser reads.
pub const CSV_TYPES: [&str; 8] = [
    "person",
    "house",
    "vehicle",
    "residence",
    "device",
    "community",
    "card",
    "kin",
];

/// The first byte picks the file's type, the rest is the file.
pub fn csv(data: &[u8]) -> Result<(), String> {
    let Some((&first, body)) = data.split_first() else {
        return Ok(());
    };
    let ty = CSV_TYPES[first as usize % CSV_TYPES.len()];
    let mut broken = None;
    crate::parse_csv(body, ty, &parse_config(), |row, rec| {
        if let Err(problems) = rec
            && broken.is_none()
        {
            broken = named(&problems, &format!("{ty} row {row}")).err();
        }
    });
    broken.map_or(Ok(()), Err)
}

/// The first byte picks the GA/T 1400 object list, the rest is the body.
pub fn viid(data: &[u8]) -> Result<(), String> {
    let Some((&first, body)) = data.split_first() else {
        return Ok(());
    };
    let cfg = parse_config();
    let objects = match first % 4 {
        0 => gat1400::parse_faces(body, &cfg),
        1 => gat1400::parse_motor_vehicles(body, &cfg),
        2 => {
            return gat1400::parse_device_object(body, "RegisterObject").map_or(Ok(()), |_| Ok(()));
        }
        _ => {
            return gat1400::parse_device_object(body, "KeepaliveObject")
                .map_or(Ok(()), |_| Ok(()));
        }
    };
    if let Ok(objs) = objects {
        for o in objs {
            if let Err(problems) = &o.record {
                named(problems, &format!("object {}", o.id))?;
            }
        }
    }
    Ok(())
}
