//! The relationship graph's data and its storage port.
//!
//! An [`Edge`] is one relation between two nodes, with everything an
//! investigator asks about it: kind, first and last seen, strength (distinct
//! days, nights, visits or records), whether it is historical, and the ids of
//! the events or records that support it. [`RelationStore`] is the narrow
//! port the backends implement (in-memory oracle, RocksDB, Neo4j): apply a
//! batch of changes, read nodes and edges, and expand a frontier one hop.
//! The traversals (neighbours, k-hop subgraph, shortest paths, common
//! associates) are written once above `expand` in [`crate::traverse`].

use std::fmt;

use model::{NodeRef, RelKind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::traverse::{self, CommonAssociate, Neighbours, Path, Subgraph};

/// Identity of an edge: the kind, its two ends and a context that tells
/// parallel edges apart (the house a registered cohabitation or tenancy comes
/// from; empty for the others). Symmetric kinds run from the smaller node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EdgeKey {
    pub kind: RelKind,
    pub from: NodeRef,
    pub to: NodeRef,
    pub ctx: String,
}

impl EdgeKey {
    /// A key with the ends ordered as the kind requires.
    pub fn new(kind: RelKind, a: NodeRef, b: NodeRef, ctx: impl Into<String>) -> Self {
        let (from, to) = if kind.is_symmetric() && b < a {
            (b, a)
        } else {
            (a, b)
        };
        Self {
            kind,
            from,
            to,
            ctx: ctx.into(),
        }
    }

    /// The end that is not `n` (`None` when `n` is neither end).
    pub fn other(&self, n: &NodeRef) -> Option<&NodeRef> {
        if &self.from == n {
            Some(&self.to)
        } else if &self.to == n {
            Some(&self.from)
        } else {
            None
        }
    }
}

impl fmt::Display for EdgeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -[{}", self.from, self.kind.as_str())?;
        if !self.ctx.is_empty() {
            write!(f, " @{}", self.ctx)?;
        }
        write!(f, "]-> {}", self.to)
    }
}

/// One relation with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub key: EdgeKey,
    /// When the relation was first supported (registration start, first
    /// co-occurrence); `None` when the source has no time (kin, ownership).
    pub first_seen: Option<Timestamp>,
    /// The latest support (registration end, last co-occurrence); `None` for
    /// a registration without an end.
    pub last_seen: Option<Timestamp>,
    /// Distinct days (companion, drives), nights (inferred cohabitant), visits
    /// or supporting records.
    pub strength: u32,
    /// The relation has ended (a registration or a cohabitation in the past).
    pub historical: bool,
    /// Kind-specific detail: the kin relation (`spouse`), registration roles.
    pub detail: String,
    /// Supporting event ids or record keys (`residence:…`), oldest first,
    /// at most the configured number.
    pub evidence: Vec<String>,
    /// How many supports there are in all.
    pub n_evidence: u32,
}

/// A node's stored properties. Nodes that only appear as edge ends have an
/// empty label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Node {
    pub node: NodeRef,
    /// What to show: a name, an address, a plate.
    pub label: String,
}

impl Node {
    pub fn bare(node: NodeRef) -> Self {
        Self {
            node,
            label: String::new(),
        }
    }
}

/// A change to the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GraphOp {
    /// Creates or replaces a node's properties.
    Node(Node),
    /// Creates or replaces an edge (its ends are created bare if absent).
    Upsert(Edge),
    /// Removes an edge if present (its ends stay).
    Remove(EdgeKey),
    /// Removes a node and every edge at it (a merged stranger archive).
    RemoveNode(NodeRef),
}

/// Which edges a traversal may use. Empty `kinds` allows every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeFilter {
    pub kinds: Vec<RelKind>,
    /// Only edges seen at some time in `[from, to]` (edges without times pass).
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub min_strength: u32,
}

impl EdgeFilter {
    pub fn kinds(kinds: &[RelKind]) -> Self {
        Self {
            kinds: kinds.to_vec(),
            ..Self::default()
        }
    }

    /// Whether only kinds are asked for: what an edge's key alone says.
    pub fn by_kind_only(&self) -> bool {
        self.from.is_none() && self.to.is_none() && self.min_strength == 0
    }

    pub fn allows(&self, e: &Edge) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&e.key.kind) {
            return false;
        }
        if e.strength < self.min_strength {
            return false;
        }
        if let (Some(to), Some(first)) = (self.to, e.first_seen)
            && first > to
        {
            return false;
        }
        if let (Some(from), Some(last)) = (self.from, e.last_seen)
            && last < from
        {
            return false;
        }
        true
    }
}

/// The storage port of the relationship graph. Implementations must be
/// interchangeable: the conformance suite holds them to the same answers.
pub trait RelationStore: Send + Sync + fmt::Debug {
    /// Applies changes in order, atomically where the backend can.
    fn apply(&self, ops: &[GraphOp]) -> Result<()>;
    /// Removes every node and edge.
    fn clear(&self) -> Result<()>;
    fn node(&self, n: &NodeRef) -> Result<Option<Node>>;
    /// Several nodes at once (one round trip where the backend can).
    fn nodes(&self, ns: &[NodeRef]) -> Result<Vec<Option<Node>>> {
        ns.iter().map(|n| self.node(n)).collect()
    }
    fn edge(&self, key: &EdgeKey) -> Result<Option<Edge>>;
    /// The edges incident to any node of `frontier` that `filter` allows,
    /// each once, in key order. One call per hop of a traversal.
    fn expand(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<Edge>>;
    /// The other ends of the edges incident to any node of `frontier` that
    /// `filter` allows, in no particular order, possibly repeated: a hop
    /// that needs no edge records (a backend may answer from its keys).
    fn adjacent(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<NodeRef>> {
        traverse::adjacent_by_expand(self, frontier, filter)
    }
    /// Every node and edge, each sorted (tests, digests, export).
    fn export(&self) -> Result<(Vec<Node>, Vec<Edge>)>;
    /// A short name for messages and benchmark tables.
    fn backend(&self) -> &'static str;

    /// How many nodes, and edges of each kind, the graph holds.
    fn counts(&self) -> Result<(u64, std::collections::BTreeMap<RelKind, u64>)> {
        let (nodes, edges) = self.export()?;
        let mut per = std::collections::BTreeMap::new();
        for e in &edges {
            *per.entry(e.key.kind).or_default() += 1;
        }
        Ok((nodes.len() as u64, per))
    }

    /// Neighbours of `n`, strongest first, at most `limit`, with how many more.
    fn neighbours(&self, n: &NodeRef, filter: &EdgeFilter, limit: usize) -> Result<Neighbours> {
        traverse::neighbours(self, n, filter, limit)
    }

    /// The nodes within `hops` of the seeds and the edges among them, at most
    /// `max_nodes` nodes (nearest first).
    fn subgraph(
        &self,
        seeds: &[NodeRef],
        hops: u32,
        filter: &EdgeFilter,
        max_nodes: usize,
    ) -> Result<Subgraph> {
        traverse::subgraph(self, seeds, hops, filter, max_nodes)
    }

    /// The distinct nodes within `hops` of the seeds (not the seeds), at
    /// most `max_nodes`, and whether the cap cut them short.
    fn within(
        &self,
        seeds: &[NodeRef],
        hops: u32,
        filter: &EdgeFilter,
        max_nodes: usize,
    ) -> Result<(Vec<NodeRef>, bool)> {
        traverse::within(self, seeds, hops, filter, max_nodes)
    }

    /// Shortest paths between `a` and `b` of at most `max_hops` edges, at most
    /// `max_paths` of them (bidirectional search).
    fn shortest_paths(
        &self,
        a: &NodeRef,
        b: &NodeRef,
        filter: &EdgeFilter,
        max_hops: u32,
        max_paths: usize,
    ) -> Result<Vec<Path>> {
        traverse::shortest_paths(self, a, b, filter, max_hops, max_paths)
    }

    /// Nodes linked to every one of `nodes`, strongest first.
    fn common_associates(
        &self,
        nodes: &[NodeRef],
        filter: &EdgeFilter,
        limit: usize,
    ) -> Result<Vec<CommonAssociate>> {
        traverse::common_associates(self, nodes, filter, limit)
    }
}
