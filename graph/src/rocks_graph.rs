//! The embedded relation store: nodes and edges in the store of record's
//! RocksDB database (column families `gnode` and `gedge`).
//!
//! Each edge is written twice, once under each end
//! (`end, direction, kind, other end, ctx → edge`), so the edges of a node are
//! one prefix scan and a hop of a traversal costs one scan per frontier node.
//! Projections write their graph changes in the same `WriteBatch` as their
//! checkpoint ([`RocksGraph::write_ops`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use model::NodeRef;
use rocksdb::{DB, IteratorMode, WriteBatch};

use crate::keys::{KeyBuf, KeyReader};
use crate::relation::{Edge, EdgeFilter, EdgeKey, GraphOp, Node, RelationStore};
use crate::store::{CF_GEDGE, CF_GNODE, decode, encode};
use crate::{Error, Result, RocksStore};

const OUT: u8 = 0;
const IN: u8 = 1;

fn node_key(n: &NodeRef) -> Vec<u8> {
    KeyBuf::new().node(n).into_bytes()
}

fn edge_key(k: &EdgeKey, dir: u8) -> Vec<u8> {
    let (end, other) = if dir == OUT {
        (&k.from, &k.to)
    } else {
        (&k.to, &k.from)
    };
    KeyBuf::new()
        .node(end)
        .tag(dir)
        .rel(k.kind)
        .node(other)
        .str(&k.ctx)
        .into_bytes()
}

/// Nodes and edges in RocksDB, sharing the store of record's database.
#[derive(Clone)]
pub struct RocksGraph {
    db: Arc<DB>,
}

impl std::fmt::Debug for RocksGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RocksGraph")
    }
}

impl RocksGraph {
    pub fn new(store: &RocksStore) -> Self {
        Self {
            db: store.db().clone(),
        }
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    /// Adds `ops` to `batch` (in order). A bare node is written for an edge
    /// end only when no node is stored or written earlier in the batch.
    pub(crate) fn write_ops(&self, batch: &mut WriteBatch, ops: &[GraphOp]) -> Result<()> {
        let (nodes, edges) = (self.cf(CF_GNODE), self.cf(CF_GEDGE));
        // nodes written, and removed, earlier in this batch, and the edges
        // written at each node (the database does not see the batch yet)
        let mut written: HashSet<&NodeRef> = HashSet::new();
        let mut removed: HashSet<&NodeRef> = HashSet::new();
        let mut batch_edges: BTreeMap<&NodeRef, Vec<&EdgeKey>> = BTreeMap::new();
        for op in ops {
            match op {
                GraphOp::Node(n) => {
                    batch.put_cf(nodes, node_key(&n.node), encode(n)?);
                    written.insert(&n.node);
                    removed.remove(&n.node);
                }
                GraphOp::Upsert(e) => {
                    if e.key.from == e.key.to {
                        return Err(Error::Invalid(format!("edge {} is a loop", e.key)));
                    }
                    for end in [&e.key.from, &e.key.to] {
                        let absent = removed.contains(end)
                            || (!written.contains(end)
                                && self.db.get_pinned_cf(nodes, node_key(end))?.is_none());
                        if absent {
                            batch.put_cf(nodes, node_key(end), encode(&Node::bare(end.clone()))?);
                            written.insert(end);
                            removed.remove(end);
                        }
                        batch_edges.entry(end).or_default().push(&e.key);
                    }
                    let v = encode(e)?;
                    batch.put_cf(edges, edge_key(&e.key, OUT), &v);
                    batch.put_cf(edges, edge_key(&e.key, IN), &v);
                }
                GraphOp::Remove(k) => {
                    batch.delete_cf(edges, edge_key(k, OUT));
                    batch.delete_cf(edges, edge_key(k, IN));
                }
                GraphOp::RemoveNode(n) => {
                    let mut at = BTreeMap::new();
                    self.edges_at(n, &mut at, &EdgeFilter::default())?;
                    let in_batch = batch_edges.remove(n).unwrap_or_default();
                    for k in at.keys().chain(in_batch) {
                        batch.delete_cf(edges, edge_key(k, OUT));
                        batch.delete_cf(edges, edge_key(k, IN));
                    }
                    batch.delete_cf(nodes, node_key(n));
                    written.remove(n);
                    removed.insert(n);
                }
            }
        }
        Ok(())
    }

    fn edges_at(
        &self,
        n: &NodeRef,
        out: &mut BTreeMap<EdgeKey, Edge>,
        filter: &EdgeFilter,
    ) -> Result<()> {
        let prefix = node_key(n);
        let cf = self.cf(CF_GEDGE);
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&prefix, rocksdb::Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let e: Edge = decode(&k, &v)?;
            if filter.allows(&e) {
                out.insert(e.key.clone(), e);
            }
        }
        Ok(())
    }
}

impl RelationStore for RocksGraph {
    fn apply(&self, ops: &[GraphOp]) -> Result<()> {
        let mut batch = WriteBatch::default();
        self.write_ops(&mut batch, ops)?;
        self.db.write(batch)?;
        Ok(())
    }

    fn clear(&self) -> Result<()> {
        for name in [CF_GNODE, CF_GEDGE] {
            self.db
                .delete_range_cf(self.cf(name), [0u8].as_slice(), [0xFFu8; 8].as_slice())?;
        }
        Ok(())
    }

    fn node(&self, n: &NodeRef) -> Result<Option<Node>> {
        let k = node_key(n);
        match self.db.get_pinned_cf(self.cf(CF_GNODE), &k)? {
            Some(v) => Ok(Some(decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    fn edge(&self, key: &EdgeKey) -> Result<Option<Edge>> {
        let k = edge_key(key, OUT);
        match self.db.get_pinned_cf(self.cf(CF_GEDGE), &k)? {
            Some(v) => Ok(Some(decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    fn expand(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<Edge>> {
        let mut out = BTreeMap::new();
        for n in frontier {
            self.edges_at(n, &mut out, filter)?;
        }
        Ok(out.into_values().collect())
    }

    fn adjacent(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<NodeRef>> {
        if !filter.by_kind_only() {
            return crate::traverse::adjacent_by_expand(self, frontier, filter);
        }
        // the keys say it all: `end, direction, kind, other end, ctx`
        let cf = self.cf(CF_GEDGE);
        let mut out = Vec::new();
        for n in frontier {
            let prefix = node_key(n);
            let iter = self
                .db
                .iterator_cf(cf, IteratorMode::From(&prefix, rocksdb::Direction::Forward));
            for item in iter {
                let (k, _) = item?;
                if !k.starts_with(&prefix) {
                    break;
                }
                let corrupt = |e: crate::keys::KeyError| Error::Corrupt {
                    key: format!("{k:02x?}"),
                    why: e.to_string(),
                };
                let mut r = KeyReader::new(&k[prefix.len()..]);
                r.tag().map_err(corrupt)?;
                let kind = r.rel().map_err(corrupt)?;
                if filter.kinds.is_empty() || filter.kinds.contains(&kind) {
                    out.push(r.node().map_err(corrupt)?);
                }
            }
        }
        Ok(out)
    }

    fn export(&self) -> Result<(Vec<Node>, Vec<Edge>)> {
        let mut nodes = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_GNODE), IteratorMode::Start) {
            let (k, v) = item?;
            nodes.push(decode::<Node>(&k, &v)?);
        }
        let mut edges = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_GEDGE), IteratorMode::Start) {
            let (k, v) = item?;
            let mut r = KeyReader::new(&k);
            r.node().map_err(|e| Error::Corrupt {
                key: format!("{k:02x?}"),
                why: e.to_string(),
            })?;
            if r.tag().ok() == Some(OUT) {
                edges.push(decode::<Edge>(&k, &v)?);
            }
        }
        nodes.sort();
        edges.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((nodes, edges))
    }

    fn backend(&self) -> &'static str {
        "rocksdb"
    }
}
