//! The ground-truth file (`truth.json`) a dataset may come with: which
//! entities were planted with which behaviour, so analysis can be measured
//! for precision and recall. Fixtures write it; `anju evaluate` reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One planted behaviour instance: the entity (person, house or vehicle id,
/// or `a|b` for a pair) and a free-form note on how it was planted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Planted {
    pub id: String,
    #[serde(default)]
    pub note: String,
}

/// The ground truth of a dataset: per model name (DESIGN.md's models, snake
/// case, e.g. `nocturnal`, `group_rental`), the planted instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Format version of this file.
    pub version: u32,
    /// Generator, preset, seed and days, for the record.
    #[serde(default)]
    pub generator: BTreeMap<String, String>,
    /// First and last local day of the events (`YYYY-MM-DD`).
    #[serde(default)]
    pub first_day: String,
    #[serde(default)]
    pub last_day: String,
    /// Models that could not be planted (e.g. the window is longer than the
    /// data), with the reason.
    #[serde(default)]
    pub not_planted: BTreeMap<String, String>,
    pub models: BTreeMap<String, Vec<Planted>>,
    /// Counts of what was generated (persons, events per type …).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

impl Truth {
    pub const VERSION: u32 = 1;

    pub fn plant(&mut self, model: &str, id: impl Into<String>, note: impl Into<String>) {
        self.models
            .entry(model.to_owned())
            .or_default()
            .push(Planted {
                id: id.into(),
                note: note.into(),
            });
    }
}
