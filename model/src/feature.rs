//! Face feature vectors.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A feature vector of the deployment's dimension; every component finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Feature(Vec<f32>);

impl Feature {
    /// Checks the dimension and that every component is a finite number.
    pub fn new(values: Vec<f32>, dim: usize) -> Result<Self> {
        if values.len() != dim {
            return Err(Error::Feature(format!(
                "dimension {} (expected {dim})",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Feature(format!(
                "component {i} is not a finite number"
            )));
        }
        // a zero vector has no direction: every cosine with it is 0, so it
        // would match nobody and open a stranger archive of its own
        if values.iter().all(|v| *v == 0.0) {
            return Err(Error::Feature("every component is 0 (no direction)".into()));
        }
        Ok(Self(values))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn dim(&self) -> usize {
        self.0.len()
    }

    /// Cosine similarity in [-1, 1]; 0 when either vector is zero.
    pub fn cosine(&self, other: &Feature) -> f32 {
        let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
        for (a, b) in self.0.iter().zip(&other.0) {
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        if na == 0.0 || nb == 0.0 {
            0.0
        } else {
            dot / (na.sqrt() * nb.sqrt())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_and_cosine() {
        assert!(Feature::new(vec![1.0; 3], 4).is_err());
        assert!(Feature::new(vec![1.0, f32::NAN], 2).is_err());
        assert!(Feature::new(vec![0.0; 4], 4).is_err());
        let a = Feature::new(vec![1.0, 0.0], 2).unwrap();
        let b = Feature::new(vec![1.0, 1.0], 2).unwrap();
        assert!((a.cosine(&b) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }
}
