//! The in-memory relation store: the test oracle the other backends are held
//! to. Deliberately plain (maps behind a lock, no encoding).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

use model::NodeRef;

use crate::Result;
use crate::relation::{Edge, EdgeFilter, EdgeKey, GraphOp, Node, RelationStore};

#[derive(Debug, Default)]
struct Inner {
    nodes: BTreeMap<NodeRef, Node>,
    edges: BTreeMap<EdgeKey, Edge>,
    incident: BTreeMap<NodeRef, BTreeSet<EdgeKey>>,
}

impl Inner {
    fn remove_edge(&mut self, k: &EdgeKey) {
        if self.edges.remove(k).is_some() {
            for end in [&k.from, &k.to] {
                if let Some(s) = self.incident.get_mut(end) {
                    s.remove(k);
                }
            }
        }
    }
}

/// Nodes and edges in memory.
#[derive(Debug, Default)]
pub struct MemGraph {
    inner: RwLock<Inner>,
}

impl MemGraph {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl RelationStore for MemGraph {
    fn apply(&self, ops: &[GraphOp]) -> Result<()> {
        if let Some(e) = ops.iter().find_map(|op| match op {
            GraphOp::Upsert(e) if e.key.from == e.key.to => Some(e),
            _ => None,
        }) {
            return Err(crate::Error::Invalid(format!("edge {} is a loop", e.key)));
        }
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            match op {
                GraphOp::Node(n) => {
                    g.nodes.insert(n.node.clone(), n.clone());
                }
                GraphOp::Upsert(e) => {
                    for end in [&e.key.from, &e.key.to] {
                        g.nodes
                            .entry(end.clone())
                            .or_insert_with(|| Node::bare(end.clone()));
                        g.incident
                            .entry(end.clone())
                            .or_default()
                            .insert(e.key.clone());
                    }
                    g.edges.insert(e.key.clone(), e.clone());
                }
                GraphOp::Remove(k) => g.remove_edge(k),
                GraphOp::RemoveNode(n) => {
                    for k in g.incident.remove(n).unwrap_or_default() {
                        g.remove_edge(&k);
                    }
                    g.nodes.remove(n);
                }
            }
        }
        Ok(())
    }

    fn clear(&self) -> Result<()> {
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Inner::default();
        Ok(())
    }

    fn node(&self, n: &NodeRef) -> Result<Option<Node>> {
        Ok(self.read().nodes.get(n).cloned())
    }

    fn edge(&self, key: &EdgeKey) -> Result<Option<Edge>> {
        Ok(self.read().edges.get(key).cloned())
    }

    fn expand(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<Edge>> {
        let g = self.read();
        let keys: BTreeSet<&EdgeKey> = frontier
            .iter()
            .filter_map(|n| g.incident.get(n))
            .flatten()
            .collect();
        Ok(keys
            .into_iter()
            .filter_map(|k| g.edges.get(k))
            .filter(|e| filter.allows(e))
            .cloned()
            .collect())
    }

    fn export(&self) -> Result<(Vec<Node>, Vec<Edge>)> {
        let g = self.read();
        Ok((
            g.nodes.values().cloned().collect(),
            g.edges.values().cloned().collect(),
        ))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
