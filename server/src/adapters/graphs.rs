//! Wiring of the relationship graph: the configured relation backend
//! (embedded RocksDB or Neo4j), the face matcher behind the projection's
//! attribution port ([`Identities`]), and the projection itself.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use graph::project::{GraphTarget, Projection, RelationParams};
use graph::{RelationStore, RocksGraph, RocksStore};

use crate::config::Config;
use crate::identity::Identities;
use crate::texts::Texts;

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
    pub matcher: Identities,
    pub texts: Texts,
    params: RelationParams,
    clock: model::Clock,
}

impl Projector {
    pub fn new(config: &Config, store: &RocksStore) -> Result<Self> {
        let dir = config.search_dir().join("faces");
        let matcher =
            Identities::open_or_rebuild(&dir, config.deployment.face_dim, config.identity.clone())
                .with_context(|| format!("opening the face index at {}", dir.display()))?;
        let texts = Texts::open(
            &config.search_dir().join("text"),
            config.search.text_writer_mb,
        )?;
        Ok(Self {
            backend: Backend::open(config, store)?,
            matcher,
            texts,
            params: config.relations.clone(),
            clock: config.clock()?,
        })
    }

    pub fn projection<'a>(&'a self, store: &'a RocksStore) -> Result<Projection<'a>> {
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
