//! Analysis: behaviour tags and alert models over the graph (with the analysis
//! issue), and their measurement against a dataset's ground truth.
//!
//! [`evaluate`] compares what a model produced with `truth.json`
//! ([`model::truth::Truth`]): per model, precision, recall, the misses and the
//! false alarms by id. It is what `anju evaluate` will print.

use std::collections::{BTreeMap, BTreeSet};

use model::truth::Truth;

/// How one model did against the truth.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelScore {
    pub true_positives: usize,
    /// Planted but not produced.
    pub misses: Vec<String>,
    /// Produced but not planted.
    pub false_alarms: Vec<String>,
}

impl ModelScore {
    /// Of what was produced, the share that was planted (1 when nothing was produced).
    pub fn precision(&self) -> f64 {
        let produced = self.true_positives + self.false_alarms.len();
        if produced == 0 {
            1.0
        } else {
            self.true_positives as f64 / produced as f64
        }
    }

    /// Of what was planted, the share that was produced (1 when nothing was planted).
    pub fn recall(&self) -> f64 {
        let planted = self.true_positives + self.misses.len();
        if planted == 0 {
            1.0
        } else {
            self.true_positives as f64 / planted as f64
        }
    }
}

/// Scores `produced` (model name → entity ids) against the truth, for every
/// model named by either side; models the truth marks as not planted are
/// left out.
pub fn evaluate(
    truth: &Truth,
    produced: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, ModelScore> {
    let empty = BTreeSet::new();
    let models: BTreeSet<&String> = truth.models.keys().chain(produced.keys()).collect();
    models
        .into_iter()
        .filter(|m| !truth.not_planted.contains_key(*m))
        .map(|m| {
            let planted: BTreeSet<&str> = truth
                .models
                .get(m)
                .into_iter()
                .flatten()
                .map(|p| p.id.as_str())
                .collect();
            let got: BTreeSet<&str> = produced
                .get(m)
                .unwrap_or(&empty)
                .iter()
                .map(String::as_str)
                .collect();
            let score = ModelScore {
                true_positives: planted.intersection(&got).count(),
                misses: planted.difference(&got).map(|s| (*s).to_owned()).collect(),
                false_alarms: got.difference(&planted).map(|s| (*s).to_owned()).collect(),
            };
            (m.clone(), score)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_misses_and_false_alarms() {
        let mut truth = Truth {
            version: Truth::VERSION,
            ..Default::default()
        };
        for id in ["p1", "p2", "p3", "p4"] {
            truth.plant("nocturnal", id, "");
        }
        truth.plant("vacant", "h1", "");
        truth
            .not_planted
            .insert("moved_out".into(), "too short".into());
        let produced = BTreeMap::from([
            (
                "nocturnal".to_owned(),
                BTreeSet::from([
                    "p1".to_owned(),
                    "p2".to_owned(),
                    "p3".to_owned(),
                    "x".to_owned(),
                ]),
            ),
            ("moved_out".to_owned(), BTreeSet::from(["p9".to_owned()])),
        ]);
        let scores = evaluate(&truth, &produced);
        let n = &scores["nocturnal"];
        assert_eq!(
            (n.true_positives, n.misses.clone(), n.false_alarms.clone()),
            (3, vec!["p4".into()], vec!["x".into()])
        );
        assert!((n.precision() - 0.75).abs() < 1e-9 && (n.recall() - 0.75).abs() < 1e-9);
        assert_eq!(scores["vacant"].recall(), 0.0);
        assert_eq!(scores["vacant"].precision(), 1.0);
        assert!(!scores.contains_key("moved_out"));
    }
}
