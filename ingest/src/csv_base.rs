//! CSV base files (`persons.csv`, `houses.csv`, `vehicles.csv`,
//! `residences.csv`, `devices.csv`): each row becomes the JSON object the
//! contract describes and goes through the same validator as JSON Lines.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Number, Value};

use crate::wire::{ParseConfig, parse_object};
use model::Record;

use crate::FieldProblem;

/// The contract type a CSV file holds, by its file name.
pub fn csv_type_for_file(path: &Path) -> Option<&'static str> {
    Some(match path.file_name()?.to_str()? {
        "persons.csv" => "person",
        "houses.csv" => "house",
        "vehicles.csv" => "vehicle",
        "residences.csv" => "residence",
        "devices.csv" => "device",
        _ => return None,
    })
}

const NUMBERS: &[&str] = &["area_m2", "floor"];
const STRING_LISTS: &[&str] = &["categories"];
const COORDINATES: &[&str] = &["location", "center"];

/// A CSV cell as the JSON value its field expects; a cell that does not fit
/// stays a string so the validator names the field and the problem.
fn cell_value(field: &str, cell: &str) -> Value {
    let split = || cell.split(';').map(str::trim).filter(|s| !s.is_empty());
    if NUMBERS.contains(&field) {
        if let Some(n) = cell.trim().parse::<i64>().ok().map(Number::from) {
            return Value::Number(n);
        }
        if let Some(n) = cell.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    } else if STRING_LISTS.contains(&field) {
        return Value::Array(split().map(|s| Value::String(s.to_owned())).collect());
    } else if COORDINATES.contains(&field) {
        let nums: Option<Vec<Value>> = split()
            .map(|s| {
                s.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .collect();
        if let Some(nums) = nums {
            return Value::Array(nums);
        }
    }
    Value::String(cell.to_owned())
}

/// Parses a CSV base file, calling `each` with the 1-based line number and
/// the record or its problems.
pub fn parse_csv<R: Read>(
    reader: R,
    ty: &str,
    cfg: &ParseConfig,
    mut each: impl FnMut(u64, Result<Record, Vec<FieldProblem>>),
) {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::Fields)
        .from_reader(reader);
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            each(
                1,
                Err(vec![FieldProblem::new(
                    "-",
                    format!("unreadable header row: {e}"),
                )]),
            );
            return;
        }
    };
    for row in rdr.records() {
        match row {
            Ok(row) => {
                let line = row.position().map_or(0, |p| p.line());
                let mut obj = Map::new();
                for (field, cell) in headers.iter().zip(row.iter()) {
                    if field == "type" || cell.is_empty() {
                        continue;
                    }
                    obj.insert(field.to_owned(), cell_value(field, cell));
                }
                obj.insert("type".to_owned(), Value::String(ty.to_owned()));
                each(line, parse_object(&obj, cfg));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                each(
                    line,
                    Err(vec![FieldProblem::new(
                        "-",
                        format!("unreadable CSV row: {e}"),
                    )]),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_records_and_bad_cells_name_their_field() {
        let csv = "id,community,building,unit,room,area_m2,use\n\
                   H1,C1,12,2,301,58,rent\n\
                   H2,C1,12,2,302,big,villa\n";
        let mut out = Vec::new();
        parse_csv(
            csv.as_bytes(),
            "house",
            &ParseConfig::default(),
            |line, r| out.push((line, r)),
        );
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0], (2, Ok(Record::Base(_)))));
        let (line, Err(problems)) = &out[1] else {
            panic!("second row must be rejected")
        };
        assert_eq!(*line, 3);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["area_m2", "use"]);
    }
}
