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

/// Registered faces below this many are searched exhaustively; above, with
/// an inverted-file index (recall-tested against the exhaustive one).
const EXACT_UP_TO: usize = 4096;

/// Attributes a face to the most similar registered face at or above the
/// threshold. The search issue brings the on-disk ANN index and stranger
/// archives behind the same port.
#[derive(Debug)]
pub struct RegisteredFaces {
    index: Mutex<Box<dyn VectorIndex + Send>>,
    dim: usize,
    threshold: f32,
}

impl RegisteredFaces {
    pub fn new(dim: usize, threshold: f32) -> Self {
        Self {
            index: Mutex::new(Box::new(ExactIndex::new(dim))),
            dim,
            threshold,
        }
    }

    /// Indexes every registered face the store holds.
    pub fn load(&self, store: &RocksStore) -> Result<usize> {
        let mut faces: Vec<(PersonId, Feature)> = Vec::new();
        store.for_each_base(BaseKind::Person, |rec| {
            if let BaseRecord::Person(p) = rec
                && let Some(f) = p.face
            {
                faces.push((p.id, f));
            }
            Ok(())
        })?;
        let mut index: Box<dyn VectorIndex + Send> = if faces.len() > EXACT_UP_TO {
            let refs: Vec<&Feature> = faces.iter().map(|(_, f)| f).collect();
            Box::new(IvfIndex::train(
                self.dim,
                &refs,
                IvfParams::for_size(faces.len()),
            )?)
        } else {
            Box::new(ExactIndex::new(self.dim))
        };
        for (p, f) in &faces {
            if let Err(e) = index.insert(p.as_str(), f) {
                tracing::warn!(person = %p, error = %e, "registered face not indexed");
            }
        }
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = index;
        Ok(faces.len())
    }
}

impl FaceMatcher for RegisteredFaces {
    fn register(&self, person: &PersonId, face: &Feature) {
        let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        idx.remove(person.as_str());
        if let Err(e) = idx.insert(person.as_str(), face) {
            tracing::warn!(person = %person, error = %e, "registered face not indexed");
        }
    }

    fn identify(&self, feature: &Feature) -> Option<NodeRef> {
        let idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
        let hit = idx
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
