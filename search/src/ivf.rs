//! An inverted-file (IVF) index: the vectors are grouped by the nearest of
//! a few hundred centroids (spherical k-means on a sample), and a query scans
//! only the lists of its `nprobe` nearest centroids. In memory, for
//! attributing faces on ingest at city scale until the on-disk ANN index of
//! the search issue; measured against [`ExactIndex`] for recall.

use std::collections::HashMap;

use model::Feature;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::{Error, ExactIndex, Hit, Result, VectorIndex, dot, normalise, top_k};

/// How an [`IvfIndex`] is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfParams {
    /// Number of lists (centroids).
    pub nlist: usize,
    /// Lists scanned per query.
    pub nprobe: usize,
    /// Most vectors used to train the centroids.
    pub train_sample: usize,
    /// Lloyd iterations.
    pub iterations: usize,
    pub seed: u64,
}

impl IvfParams {
    /// Lists ≈ 2·√n, probing 1/12 of them (at least 8): enough for the near
    /// duplicates that attribution looks for (cosine ≥ 0.8).
    pub fn for_size(n: usize) -> Self {
        let nlist = ((n as f64).sqrt() * 2.0).round().clamp(1.0, 4096.0) as usize;
        Self {
            nlist,
            nprobe: (nlist / 12).max(8).min(nlist),
            train_sample: 32_768,
            iterations: 8,
            seed: 1,
        }
    }
}

/// Vectors grouped by nearest centroid; each list is an exact index.
#[derive(Debug, Clone)]
pub struct IvfIndex {
    dim: usize,
    nprobe: usize,
    /// `nlist × dim`, normalised.
    centroids: Vec<f32>,
    lists: Vec<ExactIndex>,
    /// The lists holding each entity's vectors.
    list_of: HashMap<String, Vec<usize>>,
    n: usize,
}

impl IvfIndex {
    /// Trains centroids on (a sample of) `vectors`; the index starts empty.
    pub fn train(dim: usize, vectors: &[&Feature], params: IvfParams) -> Result<Self> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
        let mut sample: Vec<Vec<f32>> = Vec::with_capacity(vectors.len().min(params.train_sample));
        let mut order: Vec<usize> = (0..vectors.len()).collect();
        order.shuffle(&mut rng);
        for &i in order.iter().take(params.train_sample) {
            sample.push(normalise(vectors[i], dim)?);
        }
        let nlist = params.nlist.clamp(1, sample.len().max(1));
        let mut centroids: Vec<f32> = Vec::with_capacity(nlist * dim);
        for v in sample.iter().take(nlist) {
            centroids.extend_from_slice(v);
        }
        while centroids.len() < nlist * dim {
            // no sample (an empty index): any unit vector will do
            let mut v = vec![0.0; dim];
            if dim > 0 {
                v[rng.random_range(0..dim)] = 1.0;
            }
            centroids.extend_from_slice(&v);
        }
        let mut assign = vec![0usize; sample.len()];
        let iterations = if sample.is_empty() {
            0
        } else {
            params.iterations
        };
        for _ in 0..iterations {
            for (a, v) in assign.iter_mut().zip(&sample) {
                *a = nearest(&centroids, dim, v);
            }
            let mut sums = vec![0f32; nlist * dim];
            let mut counts = vec![0usize; nlist];
            for (a, v) in assign.iter().zip(&sample) {
                counts[*a] += 1;
                for (s, x) in sums[a * dim..(a + 1) * dim].iter_mut().zip(v) {
                    *s += x;
                }
            }
            for c in 0..nlist {
                let row = &mut sums[c * dim..(c + 1) * dim];
                if counts[c] == 0 {
                    // an empty list takes a random sample point
                    row.copy_from_slice(&sample[rng.random_range(0..sample.len())]);
                }
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|x| *x /= norm);
                }
            }
            centroids = sums;
        }
        Ok(Self {
            dim,
            nprobe: params.nprobe.clamp(1, nlist),
            centroids,
            lists: (0..nlist).map(|_| ExactIndex::new(dim)).collect(),
            list_of: HashMap::new(),
            n: 0,
        })
    }

    /// Every (entity, normalised vector) held.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.lists.iter().flat_map(ExactIndex::entries)
    }

    /// The `nprobe` lists nearest to a normalised vector.
    fn probe(&self, q: &[f32]) -> Vec<usize> {
        let mut scored: Vec<(f32, usize)> = self
            .centroids
            .chunks_exact(self.dim.max(1))
            .enumerate()
            .map(|(i, c)| (dot(c, q), i))
            .collect();
        let n = self.nprobe.min(scored.len());
        scored.select_nth_unstable_by(n.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
        scored.truncate(n);
        scored.into_iter().map(|(_, i)| i).collect()
    }
}

fn nearest(centroids: &[f32], dim: usize, v: &[f32]) -> usize {
    let mut best = (f32::MIN, 0);
    for (i, c) in centroids.chunks_exact(dim.max(1)).enumerate() {
        let s = dot(c, v);
        if s > best.0 {
            best = (s, i);
        }
    }
    best.1
}

impl VectorIndex for IvfIndex {
    fn insert(&mut self, entity: &str, feature: &Feature) -> Result<()> {
        let v = normalise(feature, self.dim)?;
        let list = nearest(&self.centroids, self.dim, &v);
        self.lists[list].insert(entity, feature)?;
        let lists = self.list_of.entry(entity.to_owned()).or_default();
        if !lists.contains(&list) {
            lists.push(list);
        }
        self.n += 1;
        Ok(())
    }

    fn remove(&mut self, entity: &str) -> usize {
        let removed: usize = self
            .list_of
            .remove(entity)
            .unwrap_or_default()
            .into_iter()
            .map(|l| self.lists[l].remove(entity))
            .sum();
        self.n -= removed;
        removed
    }

    fn search(&self, query: &Feature, k: usize, min_score: f32) -> Result<Vec<Hit>> {
        if query.dim() != self.dim {
            return Err(Error::Dimension {
                got: query.dim(),
                expected: self.dim,
            });
        }
        let q = normalise(query, self.dim)?;
        let mut best: HashMap<String, f32> = HashMap::new();
        for l in self.probe(&q) {
            for h in self.lists[l].search(query, k, min_score)? {
                let e = best.entry(h.entity).or_insert(h.score);
                *e = e.max(h.score);
            }
        }
        Ok(top_k(best, k))
    }

    fn len(&self) -> usize {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use rand_distr::{Distribution, Normal};

    use super::*;

    /// Identities as random unit vectors; samples are an identity plus noise
    /// (cosine ≈ 0.9, as faces of one person are).
    fn world(n_ids: usize, dim: usize, seed: u64) -> (Vec<Vec<f32>>, impl FnMut(usize) -> Feature) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        let ids: Vec<Vec<f32>> = (0..n_ids)
            .map(|_| {
                let v: Vec<f32> = (0..dim).map(|_| normal.sample(&mut rng)).collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / n).collect()
            })
            .collect();
        let noise = Normal::new(0.0f32, 0.042).unwrap();
        let ids2 = ids.clone();
        let sample = move |i: usize| {
            let v: Vec<f32> = ids2[i].iter().map(|x| x + noise.sample(&mut rng)).collect();
            Feature::new(v, dim).unwrap()
        };
        (ids, sample)
    }

    pub(super) fn world_for_sizing(
        n_ids: usize,
        dim: usize,
        seed: u64,
    ) -> (Vec<Vec<f32>>, impl FnMut(usize) -> Feature) {
        world(n_ids, dim, seed)
    }

    #[test]
    fn recall_against_exact_search() {
        let (dim, n) = (48, 4000);
        let (_, mut sample) = world(n, dim, 7);
        let registered: Vec<Feature> = (0..n).map(&mut sample).collect();
        let refs: Vec<&Feature> = registered.iter().collect();
        let mut ivf = IvfIndex::train(dim, &refs, IvfParams::for_size(n)).unwrap();
        let mut exact = ExactIndex::new(dim);
        for (i, f) in registered.iter().enumerate() {
            ivf.insert(&format!("p{i}"), f).unwrap();
            exact.insert(&format!("p{i}"), f).unwrap();
        }
        assert_eq!(ivf.len(), n);
        let mut agree = 0;
        let queries = 300;
        for q in 0..queries {
            let f = sample(q * 7 % n);
            let want = exact.search(&f, 1, 0.5).unwrap();
            let got = ivf.search(&f, 1, 0.5).unwrap();
            if want.first().map(|h| &h.entity) == got.first().map(|h| &h.entity) {
                agree += 1;
            }
        }
        let recall = agree as f64 / queries as f64;
        assert!(recall >= 0.95, "recall@1 {recall}");
        // removal and re-insertion
        assert_eq!(ivf.remove("p0"), 1);
        assert!(ivf.search(&registered[0], 1, 0.99).unwrap().is_empty());
        ivf.insert("p0", &registered[0]).unwrap();
        assert_eq!(ivf.search(&registered[0], 1, 0.99).unwrap()[0].entity, "p0");
        assert_eq!(ivf.len(), n);
    }

    #[test]
    fn tiny_and_empty_training_sets() {
        let f = Feature::new(vec![1.0, 0.0], 2).unwrap();
        let mut ivf = IvfIndex::train(2, &[], IvfParams::for_size(0)).unwrap();
        ivf.insert("a", &f).unwrap();
        assert_eq!(ivf.search(&f, 1, 0.5).unwrap()[0].entity, "a");
        let ivf = IvfIndex::train(2, &[&f], IvfParams::for_size(1)).unwrap();
        assert!(ivf.is_empty());
        assert!(
            ivf.search(&Feature::new(vec![1.0], 1).unwrap(), 1, 0.0)
                .is_err()
        );
    }
}

#[cfg(test)]
mod sizing {
    //! `cargo test --release -p search sizing -- --ignored --nocapture`:
    //! recall and cost of the inverted file at city scale, per `nprobe`.

    use std::time::Instant;

    use super::*;

    #[test]
    #[ignore = "a measurement, minutes in a debug build"]
    fn recall_and_cost_by_nprobe() {
        let (dim, n) = (128, 100_000);
        let (_, mut sample) = super::tests::world_for_sizing(n, dim, 11);
        let registered: Vec<Feature> = (0..n).map(&mut sample).collect();
        let refs: Vec<&Feature> = registered.iter().collect();
        let base = IvfParams::for_size(n);
        let t0 = Instant::now();
        let mut ivf = IvfIndex::train(dim, &refs, base).unwrap();
        let mut exact = ExactIndex::new(dim);
        for (i, f) in registered.iter().enumerate() {
            ivf.insert(&format!("p{i}"), f).unwrap();
            exact.insert(&format!("p{i}"), f).unwrap();
        }
        println!(
            "n {n}, nlist {}, built in {:.1} s",
            base.nlist,
            t0.elapsed().as_secs_f64()
        );
        let queries: Vec<(usize, Feature)> = (0..400)
            .map(|q| (q * 211 % n, sample(q * 211 % n)))
            .collect();
        for nprobe in [4, 8, 16, 32, base.nprobe] {
            ivf.nprobe = nprobe;
            let t0 = Instant::now();
            let found = queries
                .iter()
                .filter(|(i, f)| {
                    ivf.search(f, 1, 0.8)
                        .unwrap()
                        .first()
                        .map(|h| h.entity.clone())
                        == Some(format!("p{i}"))
                })
                .count();
            let ms = t0.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64;
            println!(
                "nprobe {nprobe:>4}: recall@1 {:.3}, {ms:.3} ms/query",
                found as f64 / queries.len() as f64
            );
        }
        let t0 = Instant::now();
        let found = queries
            .iter()
            .filter(|(i, f)| {
                exact
                    .search(f, 1, 0.8)
                    .unwrap()
                    .first()
                    .map(|h| h.entity.clone())
                    == Some(format!("p{i}"))
            })
            .count();
        println!(
            "exact     : recall@1 {:.3}, {:.3} ms/query",
            found as f64 / queries.len() as f64,
            t0.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64
        );
    }
}
