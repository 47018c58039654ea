//! The FalkorDB peer (Cypher over RESP): the relationship graph loaded as
//! `(:N {key})` nodes and one relationship type per relation kind, each
//! relation both ways (FalkorDB's shortest paths follow directions only),
//! and the graph workloads in Cypher over outgoing relationships.

use anyhow::{Context, Result, bail};
use graph::{Edge, Node};
use redis::Value;

pub const GRAPH: &str = "anju";

pub fn connect(url: &str) -> Result<redis::Connection> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .with_context(|| format!("connecting to FalkorDB at {url}"))
}

/// A Cypher string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Runs a query; returns the rows of its result set (none for writes).
pub fn query(c: &mut redis::Connection, q: &str) -> Result<Vec<Value>> {
    let v: Value = redis::cmd("GRAPH.QUERY")
        .arg(GRAPH)
        .arg(q)
        .arg("--compact")
        .query(c)
        .with_context(|| format!("FalkorDB: {}", q.chars().take(120).collect::<String>()))?;
    match v {
        // header, rows, statistics
        Value::Array(mut parts) if parts.len() == 3 => match parts.swap_remove(1) {
            Value::Array(rows) => Ok(rows),
            other => bail!("FalkorDB answered rows as {other:?}"),
        },
        Value::Array(_) => Ok(Vec::new()),
        other => bail!("FalkorDB answered {other:?}"),
    }
}

/// The relationship type of a relation kind.
fn rel_type(kind: model::RelKind) -> String {
    kind.as_str().to_uppercase()
}

/// Loads the graph afresh: nodes, an index on their key, then the edges in
/// batches (one `UNWIND` per kind and batch). Returns (nodes, relations).
pub fn load(c: &mut redis::Connection, nodes: &[Node], edges: &[Edge]) -> Result<(u64, u64)> {
    let _ = redis::cmd("GRAPH.DELETE").arg(GRAPH).query::<Value>(c);
    const BATCH: usize = 5_000;
    query(c, "CREATE INDEX FOR (n:N) ON (n.key)").ok();
    for chunk in nodes.chunks(BATCH) {
        let keys: Vec<String> = chunk.iter().map(|n| lit(&n.node.to_string())).collect();
        query(
            c,
            &format!(
                "CYPHER rows=[{}] UNWIND $rows AS k CREATE (:N {{key: k}})",
                keys.join(",")
            ),
        )?;
    }
    let mut by_kind: std::collections::BTreeMap<model::RelKind, Vec<&Edge>> = Default::default();
    for e in edges {
        by_kind.entry(e.key.kind).or_default().push(e);
    }
    for (kind, es) in by_kind {
        for chunk in es.chunks(BATCH) {
            let rows: Vec<String> = chunk
                .iter()
                .flat_map(|e| {
                    let (a, b) = (lit(&e.key.from.to_string()), lit(&e.key.to.to_string()));
                    [
                        format!("[{a},{b},{}]", e.strength),
                        format!("[{b},{a},{}]", e.strength),
                    ]
                })
                .collect();
            query(
                c,
                &format!(
                    "CYPHER rows=[{}] UNWIND $rows AS r MATCH (a:N {{key: r[0]}}), (b:N {{key: r[1]}}) \
                     CREATE (a)-[:{} {{strength: r[2]}}]->(b)",
                    rows.join(","),
                    rel_type(kind)
                ),
            )?;
        }
    }
    Ok((nodes.len() as u64, edges.len() as u64))
}

/// Neighbours of a node, strongest first (at most `limit`), and how many.
pub fn neighbours(c: &mut redis::Connection, key: &str, limit: usize) -> Result<usize> {
    let rows = query(
        c,
        &format!(
            "MATCH (n:N {{key: {}}})-[r]->(m) WITH m, r ORDER BY r.strength DESC \
             RETURN count(m), collect([m.key, type(r), r.strength])[0..{limit}]",
            lit(key)
        ),
    )?;
    Ok(count_of(rows.first()))
}

/// The distinct nodes within `hops` (at most `max_nodes`).
pub fn neighbourhood(
    c: &mut redis::Connection,
    key: &str,
    hops: usize,
    max_nodes: usize,
) -> Result<usize> {
    let rows = query(
        c,
        &format!(
            "MATCH (n:N {{key: {}}})-[*1..{hops}]->(m) WHERE m <> n RETURN DISTINCT m.key LIMIT {max_nodes}",
            lit(key)
        ),
    )?;
    Ok(rows.len() + 1)
}

/// The length of a shortest path of at most `max_hops` (0: none).
pub fn shortest_path(
    c: &mut redis::Connection,
    a: &str,
    b: &str,
    max_hops: usize,
) -> Result<usize> {
    let rows = query(
        c,
        &format!(
            "MATCH (a:N {{key: {}}}), (b:N {{key: {}}}) \
             RETURN length(shortestPath((a)-[*..{max_hops}]->(b)))",
            lit(a),
            lit(b)
        ),
    )?;
    Ok(count_of(rows.first()))
}

/// The first column of a compact row as a number (0 when null).
fn count_of(row: Option<&Value>) -> usize {
    let Some(Value::Array(cols)) = row else {
        return 0;
    };
    // compact cells are [type, value]
    match cols.first() {
        Some(Value::Array(cell)) => match cell.get(1) {
            Some(Value::Int(n)) => (*n).max(0) as usize,
            _ => 0,
        },
        _ => 0,
    }
}
