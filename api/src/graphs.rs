//! Wiring of the relationship graph: the configured relation backend
//! (embedded RocksDB or Neo4j), the face matcher behind the projection's
//! attribution port, and the projection itself.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use graph::project::{FaceMatcher, GraphTarget, Projection, RelationParams};
use graph::{RelationStore, RocksGraph, RocksStore};
use model::{BaseKind, BaseRecord, Feature, NodeRef, PersonId};
use search::{ExactIndex, IvfIndex, IvfParams, VectorIndex};

use crate::config::Config;

/// Registered faces up to this many are searched exhaustively; above, with
/// an inverted-file index (recall-tested against the exhaustive one).
const EXACT_UP_TO: usize = 4096;

/// The index over registered faces, and how many it held when last trained.
#[derive(Debug)]
enum FaceIndex {
    Exact(ExactIndex),
    Ivf(IvfIndex, usize),
}

impl FaceIndex {
    fn index(&mut self) -> &mut dyn VectorIndex {
        match self {
            Self::Exact(i) => i,
            Self::Ivf(i, _) => i,
        }
    }

    /// Trains an inverted file over what the index holds once it has grown
    /// past the exhaustive size, and again each time it has grown fourfold.
    fn grow(&mut self, dim: usize) -> search::Result<()> {
        let (n, trained) = match self {
            Self::Exact(i) => (i.len(), 0),
            Self::Ivf(i, t) => (i.len(), *t),
        };
        if n <= EXACT_UP_TO || (trained > 0 && n < trained * 4) {
            return Ok(());
        }
        let own =
            |(e, v): (&str, &[f32])| Some((e.to_owned(), Feature::new(v.to_vec(), dim).ok()?));
        let entries: Vec<(String, Feature)> = match self {
            Self::Exact(i) => i.entries().filter_map(own).collect(),
            Self::Ivf(i, _) => i.entries().filter_map(own).collect(),
        };
        let refs: Vec<&Feature> = entries.iter().map(|(_, f)| f).collect();
        let mut ivf = IvfIndex::train(dim, &refs, IvfParams::for_size(n))?;
        for (e, f) in &entries {
            ivf.insert(e, f)?;
        }
        *self = Self::Ivf(ivf, n);
        Ok(())
    }
}

/// Attributes a face to the most similar registered face at or above the
/// threshold. The search issue brings the on-disk ANN index and stranger
/// archives behind the same port.
#[derive(Debug)]
pub struct RegisteredFaces {
    index: Mutex<FaceIndex>,
    dim: usize,
    threshold: f32,
}

impl RegisteredFaces {
    pub fn new(dim: usize, threshold: f32) -> Self {
        Self {
            index: Mutex::new(FaceIndex::Exact(ExactIndex::new(dim))),
            dim,
            threshold,
        }
    }

    /// Indexes every registered face the store holds.
    pub fn load(&self, store: &RocksStore) -> Result<usize> {
        let mut n = 0;
        store.for_each_base(BaseKind::Person, |rec| {
            if let BaseRecord::Person(p) = rec
                && let Some(f) = &p.face
            {
                self.add(&p.id, f);
                n += 1;
            }
            Ok(())
        })?;
        self.settle();
        Ok(n)
    }

    fn add(&self, person: &PersonId, face: &Feature) {
        let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        let idx = idx.index();
        idx.remove(person.as_str());
        if let Err(e) = idx.insert(person.as_str(), face) {
            tracing::warn!(person = %person, error = %e, "registered face not indexed");
        }
    }

    /// Switches to (or retrains) the inverted file when the faces have grown.
    fn settle(&self) {
        let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = idx.grow(self.dim) {
            tracing::warn!(error = %e, "face index not retrained");
        }
    }
}

impl FaceMatcher for RegisteredFaces {
    fn register(&self, person: &PersonId, face: &Feature) {
        self.add(person, face);
    }

    fn identify(&self, feature: &Feature) -> Option<NodeRef> {
        let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        // trained on first use after the faces grew, not on every registration
        // (a first load registers them in thousands)
        if let Err(e) = idx.grow(self.dim) {
            tracing::warn!(error = %e, "face index not retrained");
        }
        let hit = idx
            .index()
            .search(feature, 1, self.threshold)
            .ok()?
            .into_iter()
            .next()?;
        PersonId::new(&hit.entity).ok().map(NodeRef::Person)
    }
}

/// The configured relation backend.
#[derive(Debug)]
pub enum Backend {
    Embedded(RocksGraph),
    #[cfg(feature = "neo4j")]
    Neo4j(Box<graph::Neo4jGraph>),
}

impl Backend {
    pub fn open(config: &Config, store: &RocksStore) -> Result<Self> {
        match config.graph.backend.as_str() {
            "rocksdb" => Ok(Self::Embedded(RocksGraph::new(store))),
            "neo4j" => Self::neo4j(config),
            other => bail!("unknown graph backend {other:?}"),
        }
    }

    #[cfg(feature = "neo4j")]
    fn neo4j(config: &Config) -> Result<Self> {
        let n = &config.graph.neo4j;
        let password = std::env::var("ANJU_NEO4J_PASSWORD").unwrap_or_else(|_| n.password.clone());
        let mut cfg = graph::Neo4jConfig::new(&n.uri, &n.user, &password);
        cfg.database = (!n.database.is_empty()).then(|| n.database.clone());
        cfg.timeout = Duration::from_secs(n.timeout_secs.max(1));
        cfg.label = n.label.clone();
        let g = graph::Neo4jGraph::connect(cfg)
            .with_context(|| format!("opening the neo4j graph backend at {}", n.uri))?;
        Ok(Self::Neo4j(Box::new(g)))
    }

    #[cfg(not(feature = "neo4j"))]
    fn neo4j(_: &Config) -> Result<Self> {
        let _ = Duration::ZERO;
        bail!("graph.backend = \"neo4j\" needs a build with the `neo4j` feature")
    }

    pub fn store(&self) -> &dyn RelationStore {
        match self {
            Self::Embedded(g) => g,
            #[cfg(feature = "neo4j")]
            Self::Neo4j(g) => g.as_ref(),
        }
    }

    pub fn target(&self) -> GraphTarget<'_> {
        match self {
            Self::Embedded(_) => GraphTarget::Embedded,
            #[cfg(feature = "neo4j")]
            Self::Neo4j(g) => GraphTarget::External(g.as_ref()),
        }
    }
}

/// Everything a projection run needs besides the store.
#[derive(Debug)]
pub struct Projector {
    pub backend: Backend,
    pub matcher: RegisteredFaces,
    params: RelationParams,
    clock: model::Clock,
    faces_loaded: bool,
}

impl Projector {
    pub fn new(config: &Config, store: &RocksStore) -> Result<Self> {
        Ok(Self {
            backend: Backend::open(config, store)?,
            matcher: RegisteredFaces::new(
                config.deployment.face_dim,
                config.identity.face_match_threshold,
            ),
            params: config.relations.clone(),
            clock: config.clock()?,
            faces_loaded: false,
        })
    }

    /// The registered faces must be known before events are attributed;
    /// they are loaded once, on first use.
    fn ensure_faces(&mut self, store: &RocksStore) -> Result<()> {
        if !self.faces_loaded {
            self.matcher.load(store)?;
            self.faces_loaded = true;
        }
        Ok(())
    }

    pub fn projection<'a>(&'a mut self, store: &'a RocksStore) -> Result<Projection<'a>> {
        self.ensure_faces(store)?;
        let now = model::Timestamp(chrono::Utc::now().timestamp_millis());
        Ok(Projection::new(
            store,
            self.backend.target(),
            self.params.clone(),
            self.clock,
            &self.matcher,
            now,
        ))
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    fn unit(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn registered_faces_switch_to_an_inverted_file_as_they_grow() {
        let dim = 32;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let faces = RegisteredFaces::new(dim, 0.8);
        let ids: Vec<Vec<f32>> = (0..EXACT_UP_TO + 500)
            .map(|_| unit(&mut rng, dim))
            .collect();
        for (i, v) in ids.iter().enumerate() {
            faces.register(
                &PersonId::new(&format!("p{i}")).unwrap(),
                &Feature::new(v.clone(), dim).unwrap(),
            );
        }
        // the first query after the faces grew trains the inverted file
        let mut hits = 0;
        for i in (0..ids.len()).step_by(97) {
            let noisy: Vec<f32> = ids[i]
                .iter()
                .map(|x| x + rng.random_range(-0.03..0.03))
                .collect();
            if faces.identify(&Feature::new(noisy, dim).unwrap())
                == Some(NodeRef::Person(PersonId::new(&format!("p{i}")).unwrap()))
            {
                hits += 1;
            }
        }
        assert!(matches!(*faces.index.lock().unwrap(), FaceIndex::Ivf(..)));
        let asked = ids.len().div_ceil(97);
        assert!(hits * 100 >= asked * 95, "{hits} of {asked}");
        // a face far from everyone is nobody
        let far = Feature::new(unit(&mut rng, dim), dim).unwrap();
        assert_eq!(faces.identify(&far), None);
    }
}
