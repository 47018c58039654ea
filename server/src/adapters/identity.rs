//! One archive per person (一人一档): the face matcher behind the
//! projection's attribution port, on the on-disk face index.
//!
//! A face without a person id goes, in order, to the most similar registered
//! face at or above `face_match_threshold`; else to the most similar stranger
//! archive at or above `stranger_threshold` (each looked for first among the
//! faces of the capture's community, then everywhere); else it opens a new stranger
//! archive, named after the capture (`s-<event>-<slot>`), so a replay names
//! it alike. An archive is represented by up to `representatives` vectors:
//! its first capture, then captures less similar than
//! `representative_below` to all the ones it has (so it covers the angles
//! and lighting it was seen in). A newly registered face claims the stranger
//! archives at or above `face_match_threshold`; they are merged into the
//! person.

use std::path::Path;

use graph::project::{Capture, Checkpoint, FaceMatcher};
use model::{ArchiveId, CommunityId, Feature, NodeRef, PersonId};
use search::{FaceFilter, FaceIndex, FaceParams, Hit};

use crate::config::Identity;

/// Staged vectors at which a commit is made mid-run.
const COMMIT_STAGED: usize = 8192;

#[derive(Debug)]
pub struct Identities {
    pub index: FaceIndex,
    params: Identity,
}

fn checkpoint_text(ck: &Checkpoint) -> String {
    format!("{}/{}", ck.base, ck.events)
}

fn parse_checkpoint(s: &str) -> Option<Checkpoint> {
    let (b, e) = s.split_once('/')?;
    Some(Checkpoint {
        base: b.parse().ok()?,
        events: e.parse().ok()?,
    })
}

impl Identities {
    pub fn open(dir: &Path, dim: usize, params: Identity) -> search::FaceResult<Self> {
        let fp = FaceParams {
            ef_search: params.ef_search,
            // checked when the configuration was read
            quantisation: params.quantisation.parse().unwrap_or_default(),
            ..FaceParams::default()
        };
        Ok(Self {
            index: FaceIndex::open(dir, dim, fp)?,
            params,
        })
    }

    /// Opens the index for the projection: a damaged one (see
    /// [`search::FaceIndex`]) is removed and opened empty, and the
    /// projection's matcher sync rebuilds it from the store of record.
    pub fn open_or_rebuild(dir: &Path, dim: usize, params: Identity) -> search::FaceResult<Self> {
        match Self::open(dir, dim, params.clone()) {
            Err(search::FaceError::Damaged { path, why }) => {
                tracing::warn!(%path, %why, "face index damaged; rebuilding it from the store");
                eprintln!("face index at {path} is damaged ({why}); rebuilding it from the store");
                std::fs::remove_dir_all(dir)
                    .map_err(|e| search::FaceError::Io(dir.display().to_string(), e))?;
                Self::open(dir, dim, params)
            }
            other => other,
        }
    }

    /// The best face of `kind` at or above `min`: first among those of the
    /// capture's community (a few hundred faces, scanned), then, if none
    /// is, everywhere (the HNSW graph). Residents are found locally.
    fn best(&self, f: &Feature, kind: &str, min: f32, local: Option<&CommunityId>) -> Option<Hit> {
        let here = local.map(|c| [c.as_str().to_owned()]);
        let scopes = [here.as_ref().map(|h| h.as_slice()), None];
        for scope in scopes.iter().skip(usize::from(here.is_none())) {
            let filter = FaceFilter {
                kind: Some(kind),
                scopes: *scope,
                ..FaceFilter::default()
            };
            match self.index.search(f.as_slice(), 1, min, &filter) {
                Ok(mut hits) => {
                    if let Some(h) = hits.pop() {
                        return Some(h);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "face search failed");
                    return None;
                }
            }
        }
        None
    }

    /// The faces most like `query` (best vector per archive), of `kind`
    /// (`person`, `stranger`, or any), within `communities` if given.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        kind: Option<&str>,
        communities: Option<&[String]>,
        except: Option<&str>,
    ) -> search::FaceResult<Vec<Hit>> {
        self.index.search(
            query,
            k,
            min_score,
            &FaceFilter {
                scopes: communities,
                kind,
                except,
            },
        )
    }

    /// For a stranger archive, the registered persons most like its faces
    /// (suggestions to merge); for a person, the archives most like their
    /// face. None when the node has no face in the index.
    pub fn similar(
        &self,
        node: &NodeRef,
        k: usize,
        min_score: f32,
        communities: Option<&[String]>,
    ) -> search::FaceResult<Option<Vec<Hit>>> {
        let entity = node.to_string();
        let vectors = self.index.vectors_of(&entity)?;
        if vectors.is_empty() {
            return Ok(None);
        }
        let kind = match node {
            NodeRef::Stranger(_) => "person",
            _ => "stranger",
        };
        let mut best = std::collections::HashMap::<String, f32>::new();
        for v in &vectors {
            for h in self.search(v, k, min_score, Some(kind), communities, Some(&entity))? {
                let b = best.entry(h.entity).or_insert(f32::MIN);
                *b = b.max(h.score);
            }
        }
        Ok(Some(search::top_k(best, k)))
    }

    fn scope(c: Option<&CommunityId>) -> &str {
        c.map_or("", |c| c.as_str())
    }
}

impl FaceMatcher for Identities {
    fn register(&self, person: &PersonId, face: &Feature, community: Option<&CommunityId>) {
        if !self.params.attribute_faces {
            return;
        }
        let entity = NodeRef::Person(person.clone()).to_string();
        self.index.remove(&entity);
        if let Err(e) = self
            .index
            .add(&entity, Self::scope(community), face.as_slice())
        {
            tracing::warn!(person = %person, error = %e, "registered face not indexed");
        }
    }

    fn identify(
        &self,
        feature: &Feature,
        capture: &Capture<'_>,
        strangers: bool,
    ) -> Option<NodeRef> {
        if !self.params.attribute_faces {
            return None;
        }
        if let Some(h) = self.best(
            feature,
            "person",
            self.params.face_match_threshold,
            capture.community,
        ) {
            return NodeRef::parse(&h.entity).ok();
        }
        if !strangers {
            return None;
        }
        if let Some(h) = self.best(
            feature,
            "stranger",
            self.params.stranger_threshold,
            capture.community,
        ) {
            return NodeRef::parse(&h.entity).ok();
        }
        ArchiveId::new(&format!("s-{}-{}", capture.event, capture.slot))
            .ok()
            .map(NodeRef::Stranger)
    }

    fn observe(&self, who: &NodeRef, feature: &Feature, capture: &Capture<'_>) {
        if !self.params.attribute_faces || !matches!(who, NodeRef::Stranger(_)) {
            return;
        }
        let entity = who.to_string();
        let n = self.index.representatives(&entity);
        if n >= self.params.representatives {
            return;
        }
        if n > 0 {
            match self.index.similarity(&entity, feature.as_slice()) {
                Ok(Some(s)) if s < self.params.representative_below => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "face index read failed");
                    return;
                }
            }
        }
        if let Err(e) = self
            .index
            .add(&entity, Self::scope(capture.community), feature.as_slice())
        {
            tracing::warn!(archive = %entity, error = %e, "stranger face not indexed");
        }
    }

    fn claims(&self, _person: &PersonId, face: &Feature) -> Vec<NodeRef> {
        if !self.params.attribute_faces {
            return Vec::new();
        }
        let filter = FaceFilter {
            kind: Some("stranger"),
            ..FaceFilter::default()
        };
        self.index
            .search(
                face.as_slice(),
                16,
                self.params.face_match_threshold,
                &filter,
            )
            .unwrap_or_default()
            .into_iter()
            .filter_map(|h| NodeRef::parse(&h.entity).ok())
            .collect()
    }

    fn merged(&self, archive: &NodeRef, _into: &NodeRef) {
        // the archive's captures now count for `into`, which observes them
        self.index.remove(&archive.to_string());
    }

    fn checkpoint(&self) -> Option<Checkpoint> {
        self.index
            .checkpoint()
            .as_deref()
            .and_then(parse_checkpoint)
    }

    fn commit(&self, ck: &Checkpoint, end: bool) -> Result<(), String> {
        if !end && self.index.stats().staged < COMMIT_STAGED {
            return Ok(());
        }
        self.index
            .commit(&checkpoint_text(ck))
            .map_err(|e| e.to_string())
    }

    fn clear(&self) -> Result<(), String> {
        self.index.clear().map_err(|e| e.to_string())
    }
}
