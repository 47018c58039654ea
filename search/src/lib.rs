//! Search beside the graph: the face-feature index (and, with the search
//! issue, the tantivy full-text index and an ANN index).
//!
//! [`ExactIndex`] answers top-k cosine queries by brute force. It is the
//! oracle an approximate index is measured against (recall), and the index for
//! deployments small enough not to need one. Results are plain [`Hit`]s; index
//! internals never leave this crate.

use std::collections::HashMap;

use model::Feature;

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
pub trait VectorIndex {
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

/// Brute-force cosine search over normalised vectors.
#[derive(Debug, Clone)]
pub struct ExactIndex {
    dim: usize,
    vectors: HashMap<String, Vec<Vec<f32>>>,
    n: usize,
}

impl ExactIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            vectors: HashMap::new(),
            n: 0,
        }
    }

    fn normalised(&self, f: &Feature) -> Result<Vec<f32>> {
        if f.dim() != self.dim {
            return Err(Error::Dimension {
                got: f.dim(),
                expected: self.dim,
            });
        }
        let norm = f.as_slice().iter().map(|x| x * x).sum::<f32>().sqrt();
        Ok(f.as_slice()
            .iter()
            .map(|x| if norm > 0.0 { x / norm } else { 0.0 })
            .collect())
    }
}

impl VectorIndex for ExactIndex {
    fn insert(&mut self, entity: &str, feature: &Feature) -> Result<()> {
        let v = self.normalised(feature)?;
        self.vectors.entry(entity.to_owned()).or_default().push(v);
        self.n += 1;
        Ok(())
    }

    fn remove(&mut self, entity: &str) -> usize {
        let removed = self.vectors.remove(entity).map_or(0, |v| v.len());
        self.n -= removed;
        removed
    }

    fn search(&self, query: &Feature, k: usize, min_score: f32) -> Result<Vec<Hit>> {
        let q = self.normalised(query)?;
        let mut hits: Vec<Hit> = self
            .vectors
            .iter()
            .filter_map(|(entity, vs)| {
                let best = vs
                    .iter()
                    .map(|v| v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>())
                    .fold(f32::MIN, f32::max);
                (best >= min_score).then(|| Hit {
                    entity: entity.clone(),
                    score: best,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.entity.cmp(&b.entity))
        });
        hits.truncate(k);
        Ok(hits)
    }

    fn len(&self) -> usize {
        self.n
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
}
