//! Traversals written once above [`RelationStore::expand`]: neighbours with
//! filters and "N more", the k-hop subgraph, shortest paths (bidirectional
//! breadth-first search) and common associates.
//!
//! Every answer is deterministic (ties broken by key order), so the backends
//! can be held to identical results.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::NodeRef;
use serde::Serialize;

use crate::relation::{Edge, EdgeFilter, Node, RelationStore};
use crate::{Error, Result};

/// One neighbour: the edge and the node at its other end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub node: NodeRef,
    /// The edge runs from the queried node to this one.
    pub outgoing: bool,
    pub edge: Edge,
}

/// A page of neighbours and how many more the filter allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbours {
    pub items: Vec<Neighbour>,
    pub total: usize,
    pub more: usize,
}

/// Nodes (with their hop distance from the nearest seed) and the edges among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subgraph {
    pub nodes: Vec<(Node, u32)>,
    pub edges: Vec<Edge>,
    /// More nodes were within reach than `max_nodes`.
    pub truncated: bool,
}

/// A path: `nodes[i]` and `nodes[i + 1]` are joined by `edges[i]` (the
/// strongest edge between them that the filter allows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Path {
    pub nodes: Vec<NodeRef>,
    pub edges: Vec<Edge>,
}

/// A node linked to all of the queried nodes, with the linking edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommonAssociate {
    pub node: NodeRef,
    pub links: Vec<Edge>,
    /// Sum of the links' strengths (the ranking).
    pub score: u64,
}

/// Orders edges strongest first, then most recent, then by key.
fn by_strength(a: &Edge, b: &Edge) -> std::cmp::Ordering {
    b.strength
        .cmp(&a.strength)
        .then(b.last_seen.cmp(&a.last_seen))
        .then(a.key.cmp(&b.key))
}

pub fn neighbours<S: RelationStore + ?Sized>(
    store: &S,
    n: &NodeRef,
    filter: &EdgeFilter,
    limit: usize,
) -> Result<Neighbours> {
    let mut edges = store.expand(std::slice::from_ref(n), filter)?;
    edges.retain(|e| e.key.other(n).is_some());
    edges.sort_by(by_strength);
    let total = edges.len();
    let items: Vec<Neighbour> = edges
        .into_iter()
        .take(limit)
        .filter_map(|edge| {
            let node = edge.key.other(n)?.clone();
            Some(Neighbour {
                outgoing: &edge.key.from == n,
                node,
                edge,
            })
        })
        .collect();
    Ok(Neighbours {
        more: total - items.len(),
        total,
        items,
    })
}

/// [`RelationStore::adjacent`] from the edges [`RelationStore::expand`]
/// returns: each edge's end away from the frontier.
pub fn adjacent_by_expand<S: RelationStore + ?Sized>(
    store: &S,
    frontier: &[NodeRef],
    filter: &EdgeFilter,
) -> Result<Vec<NodeRef>> {
    let at: BTreeSet<&NodeRef> = frontier.iter().collect();
    let mut out = Vec::new();
    for e in store.expand(frontier, filter)? {
        for (end, other) in [(&e.key.from, &e.key.to), (&e.key.to, &e.key.from)] {
            if at.contains(end) {
                out.push(other.clone());
            }
        }
    }
    Ok(out)
}

/// The distinct nodes within `hops` of the seeds (the seeds left out),
/// nearest first and in node order within a distance, at most `max_nodes`,
/// and whether that cap cut them short: a breadth-first search over
/// [`RelationStore::adjacent`] that, unlike [`subgraph`], reads neither the
/// nodes nor the edge records, nor expands the last level for the edges
/// among them.
pub fn within<S: RelationStore + ?Sized>(
    store: &S,
    seeds: &[NodeRef],
    hops: u32,
    filter: &EdgeFilter,
    max_nodes: usize,
) -> Result<(Vec<NodeRef>, bool)> {
    let mut seen: BTreeSet<NodeRef> = seeds.iter().cloned().collect();
    let mut frontier: Vec<NodeRef> = seen.iter().cloned().collect();
    let mut out = Vec::new();
    for _ in 0..hops {
        if frontier.is_empty() {
            break;
        }
        let mut next = store.adjacent(&frontier, filter)?;
        next.sort_unstable();
        next.dedup();
        next.retain(|v| !seen.contains(v));
        if out.len() + next.len() > max_nodes {
            next.truncate(max_nodes - out.len());
            out.extend(next);
            return Ok((out, true));
        }
        seen.extend(next.iter().cloned());
        out.extend(next.iter().cloned());
        frontier = next;
    }
    Ok((out, false))
}

pub fn subgraph<S: RelationStore + ?Sized>(
    store: &S,
    seeds: &[NodeRef],
    hops: u32,
    filter: &EdgeFilter,
    max_nodes: usize,
) -> Result<Subgraph> {
    let mut depth: BTreeMap<NodeRef, u32> = BTreeMap::new();
    let mut frontier: Vec<NodeRef> = Vec::new();
    let mut truncated = false;
    for s in seeds {
        if depth.len() >= max_nodes {
            truncated = true;
            break;
        }
        if depth.insert(s.clone(), 0).is_none() {
            frontier.push(s.clone());
        }
    }
    let mut edges: BTreeMap<_, Edge> = BTreeMap::new();
    let mut level = 0;
    while !frontier.is_empty() {
        frontier.sort();
        let found = store.expand(&frontier, filter)?;
        let mut next = BTreeSet::new();
        for e in &found {
            for v in [&e.key.from, &e.key.to] {
                if !depth.contains_key(v) {
                    next.insert(v.clone());
                }
            }
        }
        // the last level is expanded only for the edges among the nodes held
        let grow = level < hops && !truncated;
        frontier = Vec::new();
        if grow {
            for v in next {
                if depth.len() >= max_nodes {
                    truncated = true;
                    break;
                }
                depth.insert(v.clone(), level + 1);
                frontier.push(v);
            }
        }
        for e in found {
            if depth.contains_key(&e.key.from) && depth.contains_key(&e.key.to) {
                edges.insert(e.key.clone(), e);
            }
        }
        level += 1;
    }
    let refs: Vec<NodeRef> = depth.keys().cloned().collect();
    let nodes = nodes_of(store, &refs)?;
    Ok(Subgraph {
        nodes: nodes
            .into_iter()
            .map(|n| {
                let d = depth.get(&n.node).copied().unwrap_or(0);
                (n, d)
            })
            .collect(),
        edges: edges.into_values().collect(),
        truncated,
    })
}

/// The stored nodes for `refs` (bare nodes for ends without properties).
fn nodes_of<S: RelationStore + ?Sized>(store: &S, refs: &[NodeRef]) -> Result<Vec<Node>> {
    Ok(store
        .nodes(refs)?
        .into_iter()
        .zip(refs)
        .map(|(n, r)| n.unwrap_or_else(|| Node::bare(r.clone())))
        .collect())
}

/// One side of the bidirectional search: distances and, per node, the
/// predecessors one step closer to the side's origin (with the best edge).
#[derive(Default)]
struct Side {
    dist: HashMap<NodeRef, u32>,
    preds: HashMap<NodeRef, BTreeMap<NodeRef, Edge>>,
    frontier: Vec<NodeRef>,
    depth: u32,
}

impl Side {
    fn new(origin: &NodeRef) -> Self {
        let mut s = Self::default();
        s.dist.insert(origin.clone(), 0);
        s.frontier.push(origin.clone());
        s
    }

    fn step<S: RelationStore + ?Sized>(&mut self, store: &S, filter: &EdgeFilter) -> Result<()> {
        self.frontier.sort();
        let edges = store.expand(&self.frontier, filter)?;
        let here: std::collections::HashSet<&NodeRef> = self.frontier.iter().collect();
        let d = self.depth + 1;
        let mut next = BTreeSet::new();
        for e in edges {
            for (u, v) in [(&e.key.from, &e.key.to), (&e.key.to, &e.key.from)] {
                if !here.contains(u) {
                    continue;
                }
                match self.dist.get(v) {
                    Some(&dv) if dv != d => continue,
                    Some(_) => {}
                    None => {
                        self.dist.insert(v.clone(), d);
                    }
                }
                next.insert(v.clone());
                let preds = self.preds.entry(v.clone()).or_default();
                match preds.get(u) {
                    Some(best) if by_strength(best, &e).is_le() => {}
                    _ => {
                        preds.insert(u.clone(), e.clone());
                    }
                }
            }
        }
        self.frontier = next.into_iter().collect();
        self.depth = d;
        Ok(())
    }

    /// Node sequences from this side's origin to `m`, with their edges, at most `cap`.
    fn walks(&self, m: &NodeRef, cap: usize) -> Vec<(Vec<NodeRef>, Vec<Edge>)> {
        let mut out = Vec::new();
        let mut stack = vec![(m.clone(), vec![m.clone()], Vec::new())];
        while let Some((v, nodes, edges)) = stack.pop() {
            if out.len() >= cap {
                break;
            }
            match self.preds.get(&v) {
                None => {
                    let mut n = nodes;
                    n.reverse();
                    let mut e: Vec<Edge> = edges;
                    e.reverse();
                    out.push((n, e));
                }
                Some(ps) => {
                    for (u, e) in ps.iter().rev() {
                        let mut n = nodes.clone();
                        n.push(u.clone());
                        let mut es = edges.clone();
                        es.push(e.clone());
                        stack.push((u.clone(), n, es));
                    }
                }
            }
        }
        out
    }
}

pub fn shortest_paths<S: RelationStore + ?Sized>(
    store: &S,
    a: &NodeRef,
    b: &NodeRef,
    filter: &EdgeFilter,
    max_hops: u32,
    max_paths: usize,
) -> Result<Vec<Path>> {
    if max_paths == 0 {
        return Ok(Vec::new());
    }
    if a == b {
        return Ok(vec![Path {
            nodes: vec![a.clone()],
            edges: Vec::new(),
        }]);
    }
    let mut sa = Side::new(a);
    let mut sb = Side::new(b);
    let length = loop {
        if sa.depth + sb.depth >= max_hops || sa.frontier.is_empty() || sb.frontier.is_empty() {
            return Ok(Vec::new());
        }
        // grow the cheaper side
        let grow_b = sb.frontier.len() < sa.frontier.len();
        if grow_b {
            sb.step(store, filter)?;
        } else {
            sa.step(store, filter)?;
        }
        let (grown, other) = if grow_b { (&sb, &sa) } else { (&sa, &sb) };
        let best = grown
            .frontier
            .iter()
            .filter_map(|m| Some(grown.dist[m] + other.dist.get(m)?))
            .min();
        if let Some(l) = best {
            break l;
        }
    };
    // every shortest path crosses exactly one node at distance k from `a`
    let k = sa.depth.min(length);
    let mut meet: Vec<&NodeRef> = sa
        .dist
        .iter()
        .filter(|(m, d)| **d == k && sb.dist.get(*m) == Some(&(length - k)))
        .map(|(m, _)| m)
        .collect();
    meet.sort();
    let mut paths = Vec::new();
    for m in meet {
        for (nodes, edges) in sa.walks(m, max_paths) {
            for (bn, be) in sb.walks(m, max_paths) {
                // `bn` runs from b to m: reverse it after m
                let mut n2 = nodes.clone();
                n2.extend(bn.iter().rev().skip(1).cloned());
                let mut e2 = edges.clone();
                e2.extend(be.iter().rev().cloned());
                paths.push(Path {
                    nodes: n2,
                    edges: e2,
                });
            }
        }
    }
    paths.sort_by(|x, y| x.nodes.cmp(&y.nodes));
    paths.dedup_by(|x, y| x.nodes == y.nodes);
    paths.truncate(max_paths);
    Ok(paths)
}

pub fn common_associates<S: RelationStore + ?Sized>(
    store: &S,
    nodes: &[NodeRef],
    filter: &EdgeFilter,
    limit: usize,
) -> Result<Vec<CommonAssociate>> {
    let inputs: BTreeSet<&NodeRef> = nodes.iter().collect();
    if inputs.len() < 2 {
        return Err(Error::Invalid(
            "common associates need at least two different nodes".into(),
        ));
    }
    let mut per: BTreeMap<NodeRef, (BTreeSet<&NodeRef>, Vec<Edge>)> = BTreeMap::new();
    for n in &inputs {
        for e in store.expand(std::slice::from_ref(*n), filter)? {
            let Some(o) = e.key.other(n) else { continue };
            if inputs.contains(o) {
                continue;
            }
            let entry = per.entry(o.clone()).or_default();
            entry.0.insert(*n);
            entry.1.push(e);
        }
    }
    let mut out: Vec<CommonAssociate> = per
        .into_iter()
        .filter(|(_, (linked, _))| linked.len() == inputs.len())
        .map(|(node, (_, mut links))| {
            links.sort_by(|x, y| x.key.cmp(&y.key));
            CommonAssociate {
                score: links.iter().map(|e| u64::from(e.strength)).sum(),
                node,
                links,
            }
        })
        .collect();
    out.sort_by(|x, y| y.score.cmp(&x.score).then(x.node.cmp(&y.node)));
    out.truncate(limit);
    Ok(out)
}
