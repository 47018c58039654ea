//! Search beside the graph: the full-text index ([`TextIndex`], tantivy with
//! a Chinese tokenizer) and the face-feature index ([`FaceIndex`], HNSW over
//! quantised vectors with a durable log of the exact ones), each durable
//! with a checkpoint of what it reflects.
//!
//! [`ExactIndex`] answers top-k cosine queries by brute force: the oracle the
//! face index is measured against (recall). Results are plain [`Hit`]s and
//! [`TextHit`]s; index internals never leave this crate.

use std::collections::HashMap;

use model::Feature;

mod automata;
mod face;
mod facets;
mod text;

pub use face::{FaceError, FaceFilter, FaceIndex, FaceParams, FaceResult, FaceStats, Quantisation};
pub use text::{
    TextDoc, TextError, TextHit, TextIndex, TextQuery, TextResult, TextResults, normalise_ident,
    number_terms,
};

/// One result: the entity (a person id or stranger archive id) and its
/// cosine similarity to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entity: String,
    pub score: f32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    #[error("feature has dimension {got}, the index holds {expected}")]
    Dimension { got: usize, expected: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A face-feature index: a few representative vectors per entity.
pub trait VectorIndex: std::fmt::Debug {
    /// Adds a representative vector of an entity.
    fn insert(&mut self, entity: &str, feature: &Feature) -> Result<()>;
    /// Removes every vector of an entity (a delete, or the losing side of a merge).
    fn remove(&mut self, entity: &str) -> usize;
    /// The `k` entities most similar to `query` with a score of at least
    /// `min_score`, best first; an entity counts once (its best vector).
    fn search(&self, query: &Feature, k: usize, min_score: f32) -> Result<Vec<Hit>>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Brute-force cosine search over normalised vectors, kept in one
/// contiguous matrix so the scan is a tight, vectorisable loop.
#[derive(Debug, Clone)]
pub struct ExactIndex {
    dim: usize,
    /// Row-major, one normalised vector per row.
    data: Vec<f32>,
    /// The entity of each row.
    owner: Vec<String>,
    /// The rows of each entity.
    rows: HashMap<String, Vec<usize>>,
}

impl ExactIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            data: Vec::new(),
            owner: Vec::new(),
            rows: HashMap::new(),
        }
    }

    fn normalised(&self, f: &Feature) -> Result<Vec<f32>> {
        normalise(f, self.dim)
    }

    /// Every (entity, normalised vector) held, e.g. to build another index.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.owner
            .iter()
            .map(String::as_str)
            .zip(self.data.chunks_exact(self.dim.max(1)))
    }

    /// Moves the last row into `row` (a swap-remove), keeping the maps right.
    fn remove_row(&mut self, row: usize) {
        let last = self.owner.len() - 1;
        if row != last {
            let (d, dim) = (&mut self.data, self.dim);
            d.copy_within(last * dim..(last + 1) * dim, row * dim);
            let moved = self.owner[last].clone();
            if let Some(rs) = self.rows.get_mut(&moved)
                && let Some(r) = rs.iter_mut().find(|r| **r == last)
            {
                *r = row;
            }
            self.owner.swap(row, last);
        }
        self.owner.pop();
        self.data.truncate(last * self.dim);
    }
}

/// The `k` best entities of a map entity → best score, best first (ties by
/// entity, so answers are deterministic).
pub fn top_k(best: HashMap<impl Into<String>, f32>, k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = best
        .into_iter()
        .map(|(entity, score)| Hit {
            entity: entity.into(),
            score,
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.entity.cmp(&b.entity))
    });
    hits.truncate(k);
    hits
}

/// A feature scaled to unit length (zero stays zero), checked for `dim`.
pub(crate) fn normalise(f: &Feature, dim: usize) -> Result<Vec<f32>> {
    normalise_slice(f.as_slice(), dim)
}

pub(crate) fn normalise_slice(v: &[f32], dim: usize) -> Result<Vec<f32>> {
    if v.len() != dim {
        return Err(Error::Dimension {
            got: v.len(),
            expected: dim,
        });
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    Ok(v.iter()
        .map(|x| if norm > 0.0 { x / norm } else { 0.0 })
        .collect())
}

/// Dot product with eight independent sums, which the compiler turns into
/// SIMD lanes.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl VectorIndex for ExactIndex {
    fn insert(&mut self, entity: &str, feature: &Feature) -> Result<()> {
        let v = self.normalised(feature)?;
        self.data.extend_from_slice(&v);
        self.owner.push(entity.to_owned());
        self.rows
            .entry(entity.to_owned())
            .or_default()
            .push(self.owner.len() - 1);
        Ok(())
    }

    fn remove(&mut self, entity: &str) -> usize {
        let Some(mut rows) = self.rows.remove(entity) else {
            return 0;
        };
        // highest first, so a swap never moves one of this entity's rows
        rows.sort_unstable_by(|a, b| b.cmp(a));
        for &r in &rows {
            self.remove_row(r);
        }
        rows.len()
    }

    fn search(&self, query: &Feature, k: usize, min_score: f32) -> Result<Vec<Hit>> {
        let q = self.normalised(query)?;
        let mut best: HashMap<&str, f32> = HashMap::new();
        if self.dim > 0 {
            for (row, v) in self.data.chunks_exact(self.dim).enumerate() {
                let score = dot(v, &q);
                if score >= min_score {
                    let e = best.entry(self.owner[row].as_str()).or_insert(score);
                    *e = e.max(score);
                }
            }
        }
        Ok(top_k(best, k))
    }

    fn len(&self) -> usize {
        self.owner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[f32]) -> Feature {
        Feature::new(v.to_vec(), v.len()).unwrap()
    }

    #[test]
    fn top_k_by_best_vector_with_threshold_and_removal() {
        let mut idx = ExactIndex::new(2);
        idx.insert("a", &f(&[1.0, 0.0])).unwrap();
        idx.insert("a", &f(&[0.0, 1.0])).unwrap();
        idx.insert("b", &f(&[1.0, 1.0])).unwrap();
        idx.insert("c", &f(&[-1.0, 0.0])).unwrap();
        let hits = idx.search(&f(&[0.0, 2.0]), 2, 0.5).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.entity.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!(
            idx.search(&f(&[1.0, 0.0]), 10, 0.0)
                .unwrap()
                .iter()
                .all(|h| h.entity != "c")
        );
        assert_eq!(idx.remove("a"), 2);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.search(&f(&[0.0, 1.0]), 1, 0.0).unwrap()[0].entity, "b");
        assert_eq!(
            idx.insert("d", &f(&[1.0, 0.0, 0.0])),
            Err(Error::Dimension {
                got: 3,
                expected: 2
            })
        );
    }

    proptest::proptest! {
        /// Inserts and removes in any order leave the index answering as a
        /// naive scan over what is left.
        #[test]
        fn matches_a_naive_scan(ops in proptest::collection::vec((0u8..6, proptest::collection::vec(-1.0f32..1.0, 3), proptest::bool::weighted(0.8)), 1..40), q in proptest::collection::vec(-1.0f32..1.0, 3)) {
            let mut idx = ExactIndex::new(3);
            let mut naive: Vec<(String, Vec<f32>)> = Vec::new();
            for (e, v, add) in ops {
                let name = format!("e{e}");
                if add {
                    idx.insert(&name, &f(&v)).unwrap();
                    naive.push((name, v));
                } else {
                    let n = naive.iter().filter(|(x, _)| *x == name).count();
                    proptest::prop_assert_eq!(idx.remove(&name), n);
                    naive.retain(|(x, _)| *x != name);
                }
            }
            proptest::prop_assert_eq!(idx.len(), naive.len());
            let qf = f(&q);
            let mut want: HashMap<String, f32> = HashMap::new();
            for (e, v) in &naive {
                let s = qf.cosine(&f(v));
                let b = want.entry(e.clone()).or_insert(s);
                *b = b.max(s);
            }
            let got = idx.search(&qf, 10, -2.0).unwrap();
            proptest::prop_assert_eq!(got.len(), want.len());
            for h in got {
                proptest::prop_assert!((h.score - want[&h.entity]).abs() < 1e-4);
            }
        }
    }
}
