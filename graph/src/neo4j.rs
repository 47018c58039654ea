//! The Neo4j relation store (feature `neo4j`): nodes and relations kept in a
//! graph database over Bolt with `neo4rs`, in standard Cypher.
//!
//! Nodes are `:AnjuNode {key, label}` with a unique constraint on `key` (the
//! node's `kind:key` text form), created at start. A relation is a Cypher
//! relationship whose type is the kind in upper case (`COMPANION`) and whose
//! properties are the edge's (`ctx`, `first_seen`/`last_seen` as epoch
//! milliseconds, `strength`, `historical`, `detail`, `evidence`,
//! `n_evidence`). Writes are batched with `UNWIND $rows` inside one explicit
//! transaction per batch; a traversal hop is one `UNWIND $keys … MATCH` per
//! direction, with the filter evaluated by the database. Every call runs
//! under a timeout, so an unreachable or stuck server is an error within
//! seconds, never a hang.
//!
//! The driver is async; this store owns a small tokio runtime and blocks on
//! it, so callers see the same synchronous port as the embedded backends
//! (call it from a blocking thread, never from inside an async task).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use model::{NodeRef, RelKind, Timestamp};
use neo4rs::{BoltNull, BoltType, ConfigBuilder, Graph, Query, query};

use crate::relation::{Edge, EdgeFilter, EdgeKey, GraphOp, Node, RelationStore};
use crate::{Error, Result};

/// Where the graph database is and how long a call may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neo4jConfig {
    /// `host:port` or `bolt://host:port`.
    pub uri: String,
    pub user: String,
    pub password: String,
    /// Database name (`None`: the server's default).
    pub database: Option<String>,
    /// Longest a connect, query or commit may take.
    pub timeout: Duration,
    /// Rows per `UNWIND` statement.
    pub batch_rows: usize,
    /// The node label (default `AnjuNode`): deployments or tests sharing one
    /// database keep apart by label.
    pub label: String,
}

impl Neo4jConfig {
    pub fn new(uri: &str, user: &str, password: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            database: None,
            timeout: Duration::from_secs(10),
            batch_rows: 2000,
            label: "AnjuNode".into(),
        }
    }
}

/// Relations in Neo4j (or any Bolt server that speaks standard Cypher).
pub struct Neo4jGraph {
    rt: tokio::runtime::Runtime,
    graph: Graph,
    cfg: Neo4jConfig,
}

impl std::fmt::Debug for Neo4jGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jGraph")
            .field("uri", &self.cfg.uri)
            .finish()
    }
}

fn db_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::GraphDb(format!("{what}: {e}"))
}

fn rel_type(k: RelKind) -> String {
    k.as_str().to_ascii_uppercase()
}

fn kind_of_type(t: &str) -> Option<RelKind> {
    RelKind::parse(&t.to_ascii_lowercase())
}

fn null() -> BoltType {
    BoltType::Null(BoltNull)
}

fn opt_ts(t: Option<Timestamp>) -> BoltType {
    t.map_or_else(null, |t| BoltType::from(t.0))
}

const EDGE_FIELDS: &str = "type(r) AS kind, r.ctx AS ctx, r.first_seen AS first_seen, \
     r.last_seen AS last_seen, r.strength AS strength, r.historical AS historical, \
     r.detail AS detail, r.evidence AS evidence, r.n_evidence AS n_evidence";

impl Neo4jGraph {
    /// Connects, checks the server answers, and creates the unique constraint
    /// on node keys if it is missing.
    pub fn connect(cfg: Neo4jConfig) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| db_err("starting the driver's runtime", e))?;
        let mut b = ConfigBuilder::default()
            .uri(cfg.uri.clone())
            .user(cfg.user.clone())
            .password(cfg.password.clone())
            .max_connections(4);
        if let Some(db) = &cfg.database {
            b = b.db(db.as_str());
        }
        let config = b.build().map_err(|e| db_err("configuration", e))?;
        let timeout = cfg.timeout;
        let graph = rt
            .block_on(async { tokio::time::timeout(timeout, Graph::connect(config)).await })
            .map_err(|_| {
                Error::GraphDb(format!(
                    "no answer from {} within {} s",
                    cfg.uri,
                    timeout.as_secs_f64()
                ))
            })?
            .map_err(|e| db_err(&format!("connecting to {}", cfg.uri), e))?;
        let g = Self { rt, graph, cfg };
        g.run(query("RETURN 1 AS one"))?;
        let constraint = format!(
            "CREATE CONSTRAINT {}_key IF NOT EXISTS FOR (n:{}) REQUIRE n.key IS UNIQUE",
            g.cfg.label.to_ascii_lowercase(),
            g.cfg.label
        );
        if let Err(e) = g.run(query(&constraint)) {
            // a server that already has the constraint under another name, or
            // that only knows the older syntax, still enforces uniqueness
            tracing::warn!(error = %e, "creating the unique constraint on :AnjuNode(key)");
        }
        Ok(g)
    }

    fn block<T>(&self, what: &str, fut: impl Future<Output = neo4rs::Result<T>>) -> Result<T> {
        let timeout = self.cfg.timeout;
        self.rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
            .map_err(|_| {
                Error::GraphDb(format!(
                    "{what}: no answer within {} s",
                    timeout.as_secs_f64()
                ))
            })?
            .map_err(|e| db_err(what, e))
    }

    /// A Cypher statement with this store's node label in place of `AnjuNode`.
    fn cy(&self, text: &str) -> Query {
        query(&self.labelled(text))
    }

    fn labelled(&self, text: &str) -> String {
        if self.cfg.label == "AnjuNode" {
            text.to_owned()
        } else {
            text.replace(":AnjuNode", &format!(":{}", self.cfg.label))
        }
    }

    fn run(&self, q: Query) -> Result<()> {
        self.block("query", self.graph.run(q))
    }

    fn rows(&self, q: Query) -> Result<Vec<neo4rs::Row>> {
        let graph = &self.graph;
        self.block("query", async move {
            let mut stream = graph.execute(q).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok(rows)
        })
    }

    fn edge_of_row(row: &neo4rs::Row) -> Result<Edge> {
        let bad = |f: &str, e: &dyn std::fmt::Display| db_err(&format!("reading {f}"), e);
        let s = |f: &str| -> Result<String> { row.get::<String>(f).map_err(|e| bad(f, &e)) };
        let node = |f: &str| -> Result<NodeRef> { NodeRef::parse(&s(f)?).map_err(|e| bad(f, &e)) };
        let kind = kind_of_type(&s("kind")?)
            .ok_or_else(|| Error::GraphDb("unknown relationship type".into()))?;
        let from = node("from")?;
        let to = node("to")?;
        let ts = |f: &str| -> Result<Option<Timestamp>> {
            Ok(row
                .get::<Option<i64>>(f)
                .map_err(|e| bad(f, &e))?
                .map(Timestamp))
        };
        Ok(Edge {
            key: EdgeKey {
                kind,
                from,
                to,
                ctx: row
                    .get::<Option<String>>("ctx")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            },
            first_seen: ts("first_seen")?,
            last_seen: ts("last_seen")?,
            strength: row
                .get::<i64>("strength")
                .map_err(|e| bad("strength", &e))? as u32,
            historical: row
                .get::<bool>("historical")
                .map_err(|e| bad("historical", &e))?,
            detail: row
                .get::<Option<String>>("detail")
                .ok()
                .flatten()
                .unwrap_or_default(),
            evidence: row
                .get::<Option<Vec<String>>>("evidence")
                .map_err(|e| bad("evidence", &e))?
                .unwrap_or_default(),
            n_evidence: row
                .get::<i64>("n_evidence")
                .map_err(|e| bad("n_evidence", &e))? as u32,
        })
    }

    fn edge_row(e: &Edge) -> HashMap<String, BoltType> {
        let mut m: HashMap<String, BoltType> = HashMap::new();
        m.insert("from".into(), e.key.from.to_string().into());
        m.insert("to".into(), e.key.to.to_string().into());
        m.insert("ctx".into(), e.key.ctx.clone().into());
        m.insert("first_seen".into(), opt_ts(e.first_seen));
        m.insert("last_seen".into(), opt_ts(e.last_seen));
        m.insert("strength".into(), i64::from(e.strength).into());
        m.insert("historical".into(), e.historical.into());
        m.insert("detail".into(), e.detail.clone().into());
        m.insert("evidence".into(), e.evidence.clone().into());
        m.insert("n_evidence".into(), i64::from(e.n_evidence).into());
        m
    }

    /// The statement for a run of same-shaped operations.
    fn statement(op: &GraphOp) -> (String, HashMap<String, BoltType>) {
        match op {
            GraphOp::Node(n) => {
                let mut m: HashMap<String, BoltType> = HashMap::new();
                m.insert("key".into(), n.node.to_string().into());
                m.insert("label".into(), n.label.clone().into());
                (
                    "UNWIND $rows AS row MERGE (n:AnjuNode {key: row.key}) SET n.label = row.label"
                        .to_owned(),
                    m,
                )
            }
            GraphOp::Upsert(e) => (
                format!(
                    "UNWIND $rows AS row \
                     MERGE (a:AnjuNode {{key: row.from}}) ON CREATE SET a.label = '' \
                     MERGE (b:AnjuNode {{key: row.to}}) ON CREATE SET b.label = '' \
                     MERGE (a)-[r:{} {{ctx: row.ctx}}]->(b) \
                     SET r.first_seen = row.first_seen, r.last_seen = row.last_seen, \
                     r.strength = row.strength, r.historical = row.historical, \
                     r.detail = row.detail, r.evidence = row.evidence, r.n_evidence = row.n_evidence",
                    rel_type(e.key.kind)
                ),
                Self::edge_row(e),
            ),
            GraphOp::RemoveNode(n) => {
                let mut m: HashMap<String, BoltType> = HashMap::new();
                m.insert("key".into(), n.to_string().into());
                (
                    "UNWIND $rows AS row MATCH (n:AnjuNode {key: row.key}) DETACH DELETE n"
                        .to_owned(),
                    m,
                )
            }
            GraphOp::Remove(k) => {
                let mut m: HashMap<String, BoltType> = HashMap::new();
                m.insert("from".into(), k.from.to_string().into());
                m.insert("to".into(), k.to.to_string().into());
                m.insert("ctx".into(), k.ctx.clone().into());
                (
                    format!(
                        "UNWIND $rows AS row \
                         MATCH (a:AnjuNode {{key: row.from}})-[r:{} {{ctx: row.ctx}}]->(b:AnjuNode {{key: row.to}}) \
                         DELETE r",
                        rel_type(k.kind)
                    ),
                    m,
                )
            }
        }
    }

    fn filter_params(q: Query, keys: &[NodeRef], f: &EdgeFilter) -> Query {
        let kinds: Vec<String> = f.kinds.iter().map(|k| rel_type(*k)).collect();
        q.param(
            "keys",
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        )
        .param("kinds", kinds)
        .param("min", i64::from(f.min_strength))
        .param("from", opt_ts(f.from))
        .param("to", opt_ts(f.to))
    }
}

/// The same changes with one operation per node or edge (the last one) and
/// in an order that groups like statements: node removals, node labels, edge
/// removals, then upserts by kind. The outcome is what applying `ops` in
/// order gives; it takes a few statements per batch instead of one per run
/// of alternating kinds.
///
/// An upsert that a later change cancels still leaves its ends behind, bare
/// (unless removed later): those nodes are merged right after the node
/// removals, before the labels.
fn normalise(ops: &[GraphOp]) -> (Vec<NodeRef>, Vec<GraphOp>) {
    let mut node_removed: HashMap<&NodeRef, usize> = HashMap::new();
    let mut last_node: HashMap<&NodeRef, usize> = HashMap::new();
    let mut last_edge: HashMap<&EdgeKey, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            GraphOp::RemoveNode(n) => {
                node_removed.insert(n, i);
            }
            GraphOp::Node(n) => {
                last_node.insert(&n.node, i);
            }
            GraphOp::Upsert(e) => {
                last_edge.insert(&e.key, i);
            }
            GraphOp::Remove(k) => {
                last_edge.insert(k, i);
            }
        }
    }
    // a node removal takes the edges and labels written before it
    let gone = |n: &NodeRef, i: usize| node_removed.get(n).is_some_and(|r| *r > i);
    let mut out: Vec<(u8, String, usize)> = Vec::new();
    let mut bare: Vec<NodeRef> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        // an upsert that is not the last word on its edge still leaves its
        // ends behind
        if let GraphOp::Upsert(e) = op
            && (last_edge[&e.key] != i || gone(&e.key.from, i) || gone(&e.key.to, i))
        {
            for end in [&e.key.from, &e.key.to] {
                if !gone(end, i) {
                    bare.push(end.clone());
                }
            }
        }
        let rank = match op {
            GraphOp::RemoveNode(_) => (0, String::new()),
            GraphOp::Node(n) if last_node[&n.node] == i && !gone(&n.node, i) => (1, String::new()),
            GraphOp::Remove(k) if last_edge[k] == i => (2, String::new()),
            GraphOp::Upsert(e)
                if last_edge[&e.key] == i && !gone(&e.key.from, i) && !gone(&e.key.to, i) =>
            {
                (3, e.key.kind.as_str().to_owned())
            }
            _ => continue,
        };
        out.push((rank.0, rank.1, i));
    }
    out.sort();
    bare.sort();
    bare.dedup();
    (
        bare,
        out.into_iter().map(|(_, _, i)| ops[i].clone()).collect(),
    )
}

const FILTER: &str = "($kinds = [] OR type(r) IN $kinds) AND r.strength >= $min \
     AND ($to IS NULL OR r.first_seen IS NULL OR r.first_seen <= $to) \
     AND ($from IS NULL OR r.last_seen IS NULL OR r.last_seen >= $from)";

impl RelationStore for Neo4jGraph {
    fn apply(&self, ops: &[GraphOp]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        // operations of one statement go in one UNWIND
        let (bare, ops) = normalise(ops);
        let mut runs: Vec<(String, Vec<HashMap<String, BoltType>>)> = Vec::new();
        // node removals first, then the bare ends that must survive them
        let removals = ops
            .iter()
            .take_while(|o| matches!(o, GraphOp::RemoveNode(_)))
            .count();
        let mut bare_run = (!bare.is_empty()).then(|| {
            let rows = bare
                .iter()
                .map(|n| HashMap::from([("key".to_owned(), BoltType::from(n.to_string()))]))
                .collect();
            (
                self.labelled(
                    "UNWIND $rows AS row MERGE (n:AnjuNode {key: row.key}) ON CREATE SET n.label = ''",
                ),
                rows,
            )
        });
        for (i, op) in ops.iter().enumerate() {
            if i == removals
                && let Some(run) = bare_run.take()
            {
                runs.push(run);
            }
            if let GraphOp::Upsert(e) = op
                && e.key.from == e.key.to
            {
                return Err(Error::Invalid(format!("edge {} is a loop", e.key)));
            }
            let (stmt, row) = Self::statement(op);
            let stmt = self.labelled(&stmt);
            match runs.last_mut() {
                Some((s, rows)) if *s == stmt && rows.len() < self.cfg.batch_rows => rows.push(row),
                _ => runs.push((stmt, vec![row])),
            }
        }
        if let Some(run) = bare_run.take() {
            runs.push(run);
        }
        let graph = &self.graph;
        self.block("writing a batch", async move {
            let mut txn = graph.start_txn().await?;
            for (stmt, rows) in runs {
                txn.run(query(&stmt).param("rows", rows)).await?;
            }
            txn.commit().await
        })
    }

    fn clear(&self) -> Result<()> {
        // in slices, so that no one statement outlives the timeout on a big graph
        let q = "MATCH (n:AnjuNode) WITH n LIMIT 5000 DETACH DELETE n RETURN count(n) AS n";
        loop {
            let deleted = self
                .rows(self.cy(q))?
                .first()
                .map(|r| r.get::<i64>("n"))
                .transpose()
                .map_err(|e| db_err("reading a count", e))?
                .unwrap_or(0);
            if deleted == 0 {
                return Ok(());
            }
        }
    }

    fn node(&self, n: &NodeRef) -> Result<Option<Node>> {
        let rows = self.rows(
            self.cy("MATCH (n:AnjuNode {key: $key}) RETURN n.label AS label")
                .param("key", n.to_string()),
        )?;
        Ok(rows.first().map(|r| Node {
            node: n.clone(),
            label: r
                .get::<Option<String>>("label")
                .ok()
                .flatten()
                .unwrap_or_default(),
        }))
    }

    fn nodes(&self, ns: &[NodeRef]) -> Result<Vec<Option<Node>>> {
        let mut found: HashMap<String, String> = HashMap::new();
        for chunk in ns.chunks(self.cfg.batch_rows.max(1)) {
            let keys: Vec<String> = chunk.iter().map(|n| n.to_string()).collect();
            for r in self.rows(
                self.cy("UNWIND $keys AS k MATCH (n:AnjuNode {key: k}) RETURN n.key AS key, n.label AS label")
                    .param("keys", keys),
            )? {
                let key: String = r.get("key").map_err(|e| db_err("reading key", e))?;
                let label = r.get::<Option<String>>("label").ok().flatten().unwrap_or_default();
                found.insert(key, label);
            }
        }
        Ok(ns
            .iter()
            .map(|n| {
                found.get(&n.to_string()).map(|label| Node {
                    node: n.clone(),
                    label: label.clone(),
                })
            })
            .collect())
    }

    fn edge(&self, key: &EdgeKey) -> Result<Option<Edge>> {
        let q = format!(
            "MATCH (a:AnjuNode {{key: $from}})-[r:{} {{ctx: $ctx}}]->(b:AnjuNode {{key: $to}}) \
             RETURN a.key AS from, b.key AS to, {EDGE_FIELDS}",
            rel_type(key.kind)
        );
        let rows = self.rows(
            self.cy(&q)
                .param("from", key.from.to_string())
                .param("to", key.to.to_string())
                .param("ctx", key.ctx.clone()),
        )?;
        rows.first().map(Self::edge_of_row).transpose()
    }

    fn expand(&self, frontier: &[NodeRef], filter: &EdgeFilter) -> Result<Vec<Edge>> {
        if frontier.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = BTreeMap::new();
        // anchored on the indexed frontier node, both directions in one
        // statement; the edge's own direction comes from startNode/endNode
        let q = format!(
            "UNWIND $keys AS k MATCH (n:AnjuNode {{key: k}})-[r]-(m:AnjuNode) WHERE {FILTER} \
             RETURN startNode(r).key AS from, endNode(r).key AS to, {EDGE_FIELDS}"
        );
        for chunk in frontier.chunks(self.cfg.batch_rows.max(1)) {
            for row in self.rows(Self::filter_params(self.cy(&q), chunk, filter))? {
                let e = Self::edge_of_row(&row)?;
                out.insert(e.key.clone(), e);
            }
        }
        Ok(out.into_values().collect())
    }

    fn export(&self) -> Result<(Vec<Node>, Vec<Edge>)> {
        let mut nodes = Vec::new();
        for r in self.rows(self.cy("MATCH (n:AnjuNode) RETURN n.key AS key, n.label AS label"))? {
            let key: String = r.get("key").map_err(|e| db_err("reading key", e))?;
            nodes.push(Node {
                node: NodeRef::parse(&key).map_err(|e| db_err("reading key", e))?,
                label: r
                    .get::<Option<String>>("label")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            });
        }
        let q = format!(
            "MATCH (a:AnjuNode)-[r]->(b:AnjuNode) RETURN a.key AS from, b.key AS to, {EDGE_FIELDS}"
        );
        let mut edges = self
            .rows(self.cy(&q))?
            .iter()
            .map(Self::edge_of_row)
            .collect::<Result<Vec<_>>>()?;
        nodes.sort();
        edges.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((nodes, edges))
    }

    fn backend(&self) -> &'static str {
        "neo4j"
    }

    fn counts(&self) -> Result<(u64, BTreeMap<RelKind, u64>)> {
        let n = self
            .rows(self.cy("MATCH (n:AnjuNode) RETURN count(n) AS n"))?
            .first()
            .map(|r| r.get::<i64>("n"))
            .transpose()
            .map_err(|e| db_err("reading a count", e))?
            .unwrap_or(0);
        let mut per = BTreeMap::new();
        for r in self.rows(
            self.cy("MATCH (:AnjuNode)-[r]->(:AnjuNode) RETURN type(r) AS kind, count(r) AS n"),
        )? {
            let kind: String = r.get("kind").map_err(|e| db_err("reading a count", e))?;
            let c: i64 = r.get("n").map_err(|e| db_err("reading a count", e))?;
            if let Some(k) = kind_of_type(&kind) {
                per.insert(k, c as u64);
            }
        }
        Ok((n as u64, per))
    }
}
