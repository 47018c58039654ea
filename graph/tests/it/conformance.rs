//! One conformance suite for every relation backend: the same cases against
//! the in-memory oracle, RocksDB and (with the `neo4j` feature and
//! `ANJU_NEO4J_URI` set) a real Bolt server. The Neo4j cases print that they
//! were skipped when no server is configured.

use graph::traverse::Path;
use graph::{Edge, EdgeFilter, EdgeKey, GraphOp, MemGraph, Node, RelationStore, RocksGraph};
use model::{NodeRef, RelKind, Timestamp};

/// A backend under test and whatever must outlive it.
pub struct Fixture {
    pub graph: Box<dyn RelationStore>,
    _keep: Option<(tempfile::TempDir, graph::RocksStore)>,
}

pub fn mem(_: &str) -> Option<Fixture> {
    Some(Fixture {
        graph: Box::new(MemGraph::new()),
        _keep: None,
    })
}

pub fn rocks(_: &str) -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::open(dir.path());
    Some(Fixture {
        graph: Box::new(RocksGraph::new(&store)),
        _keep: Some((dir, store)),
    })
}

/// The Bolt server from `ANJU_NEO4J_URI` (`scripts/arcadedb.sh env`), with a
/// node label of the test's own so that tests running in parallel keep apart.
#[cfg(feature = "neo4j")]
pub fn neo4j(test: &str) -> Option<Fixture> {
    let Ok(uri) = std::env::var("ANJU_NEO4J_URI") else {
        eprintln!(
            "skipped: ANJU_NEO4J_URI is not set (scripts/arcadedb.sh start; eval $(scripts/arcadedb.sh env))"
        );
        return None;
    };
    let user = std::env::var("ANJU_NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("ANJU_NEO4J_PASSWORD").unwrap_or_default();
    let mut cfg = graph::Neo4jConfig::new(&uri, &user, &password);
    cfg.label = format!(
        "T_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let g = graph::Neo4jGraph::connect(cfg).expect("connect to the Bolt server");
    g.clear().unwrap();
    Some(Fixture {
        graph: Box::new(g),
        _keep: None,
    })
}

pub fn p(s: &str) -> NodeRef {
    NodeRef::parse(&format!("person:{s}")).unwrap()
}

pub fn h(s: &str) -> NodeRef {
    NodeRef::parse(&format!("house:{s}")).unwrap()
}

pub fn v(s: &str) -> NodeRef {
    NodeRef::parse(&format!("vehicle:{s}")).unwrap()
}

const DAY: i64 = 86_400_000;

pub fn edge(
    kind: RelKind,
    a: NodeRef,
    b: NodeRef,
    ctx: &str,
    strength: u32,
    times: Option<(i64, i64)>,
) -> Edge {
    let key = EdgeKey::new(kind, a, b, ctx);
    Edge {
        evidence: vec![format!("ev-{}-{}", key.from.key(), key.to.key())],
        key,
        first_seen: times.map(|t| Timestamp(t.0 * DAY)),
        last_seen: times.map(|t| Timestamp(t.1 * DAY)),
        strength,
        historical: false,
        detail: String::new(),
        n_evidence: 1,
    }
}

/// p1–p2 companions, p2–p3 companions, p3–p4 spouses, p1/p3/p4 live in h1,
/// p5 owns v1 which p1 drives, p1 and p5 were cohabitants in h1 and are in h2.
pub fn world() -> Vec<GraphOp> {
    use RelKind::*;
    let mut kin = edge(Kin, p("p3"), p("p4"), "spouse", 1, None);
    kin.detail = "spouse".into();
    let mut old = edge(Cohabitant, p("p5"), p("p1"), "h1", 1, Some((0, 5)));
    old.historical = true;
    vec![
        GraphOp::Node(Node {
            node: p("p1"),
            label: "张伟".into(),
        }),
        GraphOp::Node(Node {
            node: h("h1"),
            label: "万户新村1栋1单元101室".into(),
        }),
        GraphOp::Node(Node {
            node: p("p6"),
            label: "孤立".into(),
        }),
        GraphOp::Upsert(edge(Companion, p("p1"), p("p2"), "", 5, Some((10, 20)))),
        GraphOp::Upsert(edge(Companion, p("p3"), p("p2"), "", 3, Some((15, 16)))),
        GraphOp::Upsert(kin),
        GraphOp::Upsert(edge(LivesIn, p("p1"), h("h1"), "", 1, Some((0, 0)))),
        GraphOp::Upsert(edge(LivesIn, p("p3"), h("h1"), "", 1, Some((0, 0)))),
        GraphOp::Upsert(edge(LivesIn, p("p4"), h("h1"), "", 1, None)),
        GraphOp::Upsert(edge(Owns, p("p5"), v("苏J12345"), "", 1, None)),
        GraphOp::Upsert(edge(Drives, p("p1"), v("苏J12345"), "", 4, Some((3, 9)))),
        GraphOp::Upsert(old),
        GraphOp::Upsert(edge(Cohabitant, p("p1"), p("p5"), "h2", 2, Some((6, 30)))),
    ]
}

fn nodes_of(path: &Path) -> Vec<String> {
    path.nodes.iter().map(|n| n.to_string()).collect()
}

pub mod cases {
    use super::*;

    pub fn nodes_and_edges(g: &dyn RelationStore) {
        g.apply(&world()).unwrap();
        assert_eq!(g.node(&p("p1")).unwrap().unwrap().label, "张伟");
        // an edge end without properties exists, bare
        assert_eq!(g.node(&p("p2")).unwrap().unwrap().label, "");
        assert_eq!(g.node(&p("nobody")).unwrap(), None);
        // symmetric kinds are stored from the smaller node
        let key = EdgeKey::new(RelKind::Companion, p("p2"), p("p1"), "");
        assert_eq!(key.from, p("p1"));
        let e = g.edge(&key).unwrap().unwrap();
        assert_eq!(
            (e.strength, e.first_seen, e.last_seen),
            (5, Some(Timestamp(10 * DAY)), Some(Timestamp(20 * DAY)))
        );
        assert_eq!(e.evidence, ["ev-p1-p2"]);
        // parallel edges are told apart by their context
        let h1 = g
            .edge(&EdgeKey::new(RelKind::Cohabitant, p("p1"), p("p5"), "h1"))
            .unwrap()
            .unwrap();
        assert!(h1.historical);
        let h2 = g
            .edge(&EdgeKey::new(RelKind::Cohabitant, p("p1"), p("p5"), "h2"))
            .unwrap()
            .unwrap();
        assert!(!h2.historical);
        let kin = g
            .edge(&EdgeKey::new(RelKind::Kin, p("p3"), p("p4"), "spouse"))
            .unwrap()
            .unwrap();
        assert_eq!((kin.first_seen, kin.detail.as_str()), (None, "spouse"));
        let (nodes, edges) = g.export().unwrap();
        assert_eq!(nodes.len(), 8, "{nodes:?}");
        assert_eq!(edges.len(), 10);
        assert!(edges.windows(2).all(|w| w[0].key < w[1].key));
        let (n, per) = g.counts().unwrap();
        assert_eq!(n, 8);
        assert_eq!(
            (
                per[&RelKind::Companion],
                per[&RelKind::LivesIn],
                per[&RelKind::Cohabitant]
            ),
            (2, 3, 2)
        );
        assert_eq!(per.values().sum::<u64>(), 10);

        // an upsert replaces, a node update keeps the edges, a remove removes
        let mut stronger = e.clone();
        stronger.strength = 9;
        stronger.evidence.push("ev-more".into());
        g.apply(&[
            GraphOp::Upsert(stronger.clone()),
            GraphOp::Node(Node {
                node: p("p2"),
                label: "李娜".into(),
            }),
            GraphOp::Remove(EdgeKey::new(RelKind::Drives, p("p1"), v("苏J12345"), "")),
            GraphOp::Remove(EdgeKey::new(RelKind::Drives, p("p9"), v("苏J12345"), "")),
        ])
        .unwrap();
        assert_eq!(g.edge(&key).unwrap().unwrap(), stronger);
        assert_eq!(g.node(&p("p2")).unwrap().unwrap().label, "李娜");
        assert_eq!(
            g.edge(&EdgeKey::new(RelKind::Drives, p("p1"), v("苏J12345"), ""))
                .unwrap(),
            None
        );
        assert_eq!(g.export().unwrap().1.len(), 9);
        // re-applying an edge does not reset a node's label
        g.apply(&[GraphOp::Upsert(stronger)]).unwrap();
        assert_eq!(g.node(&p("p1")).unwrap().unwrap().label, "张伟");
        // removing a node takes its edges with it
        g.apply(&[GraphOp::RemoveNode(p("p5"))]).unwrap();
        assert_eq!(g.node(&p("p5")).unwrap(), None);
        assert_eq!(
            g.neighbours(&p("p5"), &EdgeFilter::default(), 10)
                .unwrap()
                .total,
            0
        );
        assert_eq!(
            g.neighbours(&p("p1"), &EdgeFilter::default(), 10)
                .unwrap()
                .total,
            2
        );
        assert_eq!(g.export().unwrap().1.len(), 6);
        // a loop is refused
        assert!(
            g.apply(&[GraphOp::Upsert(edge(
                RelKind::Kin,
                p("p1"),
                p("p1"),
                "",
                1,
                None
            ))])
            .is_err()
        );
        g.clear().unwrap();
        assert_eq!(g.export().unwrap(), (vec![], vec![]));
    }

    pub fn expand_and_neighbours(g: &dyn RelationStore) {
        g.apply(&world()).unwrap();
        let all = g.neighbours(&p("p1"), &EdgeFilter::default(), 10).unwrap();
        let order: Vec<(String, u32)> = all
            .items
            .iter()
            .map(|n| (n.node.to_string(), n.edge.strength))
            .collect();
        assert_eq!(
            order,
            [
                ("person:p2".to_string(), 5),
                ("vehicle:苏J12345".to_string(), 4),
                ("person:p5".to_string(), 2),
                ("person:p5".to_string(), 1),
                ("house:h1".to_string(), 1),
            ]
        );
        assert_eq!((all.total, all.more), (5, 0));
        assert!(
            all.items
                .iter()
                .all(|n| n.outgoing == (n.edge.key.from == p("p1")))
        );
        let page = g.neighbours(&p("p1"), &EdgeFilter::default(), 2).unwrap();
        assert_eq!((page.items.len(), page.total, page.more), (2, 5, 3));

        let kinds = EdgeFilter::kinds(&[RelKind::Companion, RelKind::Kin]);
        let n: Vec<String> = g
            .neighbours(&p("p3"), &kinds, 10)
            .unwrap()
            .items
            .iter()
            .map(|n| n.node.to_string())
            .collect();
        assert_eq!(n, ["person:p2", "person:p4"]);
        let strong = EdgeFilter {
            min_strength: 4,
            ..Default::default()
        };
        assert_eq!(g.neighbours(&p("p1"), &strong, 10).unwrap().total, 2);
        // a window keeps edges seen in it, and edges without times
        let window = EdgeFilter {
            from: Some(Timestamp(21 * DAY)),
            to: Some(Timestamp(40 * DAY)),
            ..Default::default()
        };
        let n: Vec<String> = g
            .neighbours(&p("p1"), &window, 10)
            .unwrap()
            .items
            .iter()
            .map(|n| n.edge.key.to_string())
            .collect();
        assert_eq!(n, ["person:p1 -[cohabitant @h2]-> person:p5"]);
        let window = EdgeFilter {
            to: Some(Timestamp(2 * DAY)),
            ..Default::default()
        };
        assert_eq!(
            g.neighbours(&p("p4"), &window, 10).unwrap().total,
            2,
            "kin and an open registration"
        );
        assert_eq!(
            g.neighbours(&p("p6"), &EdgeFilter::default(), 10)
                .unwrap()
                .total,
            0
        );
        assert_eq!(
            g.neighbours(&p("ghost"), &EdgeFilter::default(), 10)
                .unwrap()
                .total,
            0
        );
        // expand takes a whole frontier at once and gives each edge once
        let e = g
            .expand(&[p("p1"), p("p2"), p("p3")], &EdgeFilter::default())
            .unwrap();
        assert_eq!(e.len(), 8);
        assert!(e.windows(2).all(|w| w[0].key < w[1].key));
    }

    pub fn subgraph(g: &dyn RelationStore) {
        g.apply(&world()).unwrap();
        let s = g
            .subgraph(&[p("p2")], 1, &EdgeFilter::default(), 100)
            .unwrap();
        let nodes: Vec<(String, u32)> = s
            .nodes
            .iter()
            .map(|(n, d)| (n.node.to_string(), *d))
            .collect();
        assert_eq!(
            nodes,
            [
                ("person:p1".into(), 1),
                ("person:p2".into(), 0),
                ("person:p3".into(), 1)
            ]
        );
        assert_eq!(s.nodes[0].0.label, "张伟");
        assert_eq!(s.edges.len(), 2);
        assert!(!s.truncated);
        let s = g
            .subgraph(&[p("p2")], 2, &EdgeFilter::default(), 100)
            .unwrap();
        assert_eq!(s.nodes.len(), 7);
        // edges among the last level's nodes are included too (p3–p4, p4–h1, p5–v1)
        assert_eq!(s.edges.len(), 10);
        let capped = g
            .subgraph(&[p("p2")], 3, &EdgeFilter::default(), 4)
            .unwrap();
        assert_eq!(capped.nodes.len(), 4);
        assert!(capped.truncated);
        assert!(
            capped
                .edges
                .iter()
                .all(|e| capped.nodes.iter().any(|(n, _)| n.node == e.key.from)
                    && capped.nodes.iter().any(|(n, _)| n.node == e.key.to))
        );
        let kin_only = g
            .subgraph(&[p("p4")], 5, &EdgeFilter::kinds(&[RelKind::Kin]), 100)
            .unwrap();
        assert_eq!(kin_only.nodes.len(), 2);
        let two = g
            .subgraph(&[p("p6"), p("p5")], 1, &EdgeFilter::default(), 100)
            .unwrap();
        assert_eq!(two.nodes.len(), 4);
        // within: the subgraph's nodes without the seeds, nearest first,
        // whatever the filter (kinds alone are read from the keys)
        let strong = EdgeFilter {
            min_strength: 2,
            ..EdgeFilter::default()
        };
        let filters = [
            EdgeFilter::default(),
            EdgeFilter::kinds(&[RelKind::Companion, RelKind::Kin]),
            strong,
        ];
        for (hops, f) in (1..=3).flat_map(|h| filters.iter().map(move |f| (h, f))) {
            let s = g.subgraph(&[p("p2")], hops, f, 100).unwrap();
            let (mut near, cut) = g.within(&[p("p2")], hops, f, 100).unwrap();
            let mut adjacent = g.adjacent(&[p("p2")], f).unwrap();
            adjacent.sort();
            adjacent.dedup();
            let mut one: Vec<NodeRef> = s
                .nodes
                .iter()
                .filter(|(_, d)| *d == 1)
                .map(|(n, _)| n.node.clone())
                .collect();
            one.sort();
            assert_eq!(adjacent, one, "adjacent = the first hop");
            assert!(!cut);
            let mut want: Vec<NodeRef> = s
                .nodes
                .iter()
                .filter(|(_, d)| *d > 0)
                .map(|(n, _)| n.node.clone())
                .collect();
            near.sort();
            want.sort();
            assert_eq!(near, want, "{hops} hops");
        }
        let (one, _) = g
            .within(&[p("p2")], 1, &EdgeFilter::default(), 100)
            .unwrap();
        let (three, cut) = g
            .within(&[p("p2")], 3, &EdgeFilter::default(), 100)
            .unwrap();
        assert_eq!(three[..one.len()], one[..], "nearest first");
        assert!(!cut);
        let (capped, cut) = g.within(&[p("p2")], 3, &EdgeFilter::default(), 3).unwrap();
        assert_eq!(capped, three[..3], "a cap keeps the nearest, in node order");
        assert!(cut);
    }

    pub fn shortest_paths(g: &dyn RelationStore) {
        g.apply(&world()).unwrap();
        let any = EdgeFilter::default();
        let paths = g.shortest_paths(&p("p2"), &p("p4"), &any, 6, 10).unwrap();
        assert_eq!(paths.len(), 1);
        assert_eq!(nodes_of(&paths[0]), ["person:p2", "person:p3", "person:p4"]);
        assert_eq!(paths[0].edges.len(), 2);
        assert_eq!(paths[0].edges[1].key.kind, RelKind::Kin);
        // two shortest paths of length 2
        let paths = g.shortest_paths(&p("p2"), &h("h1"), &any, 6, 10).unwrap();
        let all: Vec<Vec<String>> = paths.iter().map(nodes_of).collect();
        assert_eq!(
            all,
            [
                vec!["person:p2", "person:p1", "house:h1"],
                vec!["person:p2", "person:p3", "house:h1"]
            ]
        );
        assert_eq!(
            g.shortest_paths(&p("p2"), &h("h1"), &any, 6, 1)
                .unwrap()
                .len(),
            1
        );
        // kinds allowed change the route
        let no_kin = EdgeFilter::kinds(&[RelKind::Companion, RelKind::LivesIn]);
        let paths = g
            .shortest_paths(&p("p2"), &p("p4"), &no_kin, 6, 10)
            .unwrap();
        let all: Vec<Vec<String>> = paths.iter().map(nodes_of).collect();
        assert_eq!(
            all,
            [
                vec!["person:p2", "person:p1", "house:h1", "person:p4"],
                vec!["person:p2", "person:p3", "house:h1", "person:p4"]
            ]
        );
        // the strongest parallel edge stands for a hop
        let paths = g.shortest_paths(&p("p5"), &p("p2"), &any, 6, 10).unwrap();
        assert_eq!(nodes_of(&paths[0]), ["person:p5", "person:p1", "person:p2"]);
        assert_eq!(paths[0].edges[0].key.ctx, "h2");
        // too few hops allowed, disconnected, or the same node
        assert!(
            g.shortest_paths(&p("p2"), &p("p4"), &no_kin, 2, 10)
                .unwrap()
                .is_empty()
        );
        assert!(
            g.shortest_paths(&p("p2"), &p("p6"), &any, 6, 10)
                .unwrap()
                .is_empty()
        );
        assert!(
            g.shortest_paths(&p("p2"), &p("ghost"), &any, 6, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            nodes_of(&g.shortest_paths(&p("p2"), &p("p2"), &any, 6, 10).unwrap()[0]),
            ["person:p2"]
        );
        // a long way round, across a vehicle
        let paths = g
            .shortest_paths(
                &p("p5"),
                &p("p4"),
                &EdgeFilter::kinds(&[RelKind::Owns, RelKind::Drives, RelKind::LivesIn]),
                6,
                10,
            )
            .unwrap();
        assert_eq!(
            nodes_of(&paths[0]),
            [
                "person:p5",
                "vehicle:苏J12345",
                "person:p1",
                "house:h1",
                "person:p4"
            ]
        );
    }

    pub fn common_associates(g: &dyn RelationStore) {
        g.apply(&world()).unwrap();
        let any = EdgeFilter::default();
        let c = g.common_associates(&[p("p2"), p("p4")], &any, 10).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].node, p("p3"));
        assert_eq!(c[0].links.len(), 2);
        assert_eq!(c[0].score, 4);
        let c = g
            .common_associates(&[p("p1"), p("p4"), p("p3")], &any, 10)
            .unwrap();
        assert_eq!(
            c.iter().map(|c| c.node.to_string()).collect::<Vec<_>>(),
            ["house:h1"]
        );
        let c = g.common_associates(&[p("p1"), p("p3")], &any, 10).unwrap();
        assert_eq!(
            c.iter().map(|c| c.node.to_string()).collect::<Vec<_>>(),
            ["person:p2", "house:h1"]
        );
        assert!(
            g.common_associates(&[p("p1"), p("p3")], &EdgeFilter::kinds(&[RelKind::Kin]), 10)
                .unwrap()
                .is_empty()
        );
        assert!(g.common_associates(&[p("p1"), p("p1")], &any, 10).is_err());
    }
}

/// One test per case for a backend.
macro_rules! relation_store_suite {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::cases;

            fn run(name: &str, case: fn(&dyn graph::RelationStore)) {
                if let Some(f) = $make(name) {
                    case(&*f.graph);
                }
            }

            #[test]
            fn nodes_and_edges() {
                run(
                    concat!(stringify!($backend), "_nodes"),
                    cases::nodes_and_edges,
                );
            }

            #[test]
            fn expand_and_neighbours() {
                run(
                    concat!(stringify!($backend), "_neighbours"),
                    cases::expand_and_neighbours,
                );
            }

            #[test]
            fn subgraph() {
                run(concat!(stringify!($backend), "_subgraph"), cases::subgraph);
            }

            #[test]
            fn shortest_paths() {
                run(
                    concat!(stringify!($backend), "_paths"),
                    cases::shortest_paths,
                );
            }

            #[test]
            fn common_associates() {
                run(
                    concat!(stringify!($backend), "_common"),
                    cases::common_associates,
                );
            }
        }
    };
}

relation_store_suite!(memory, super::mem);
relation_store_suite!(rocksdb, super::rocks);
#[cfg(feature = "neo4j")]
relation_store_suite!(neo4j, super::neo4j);

/// An unreachable server is a clear error within seconds, not a hang: a
/// closed port, and a port that accepts but never answers.
#[cfg(feature = "neo4j")]
#[test]
fn neo4j_unreachable_server_is_a_clear_error_in_seconds() {
    use std::time::{Duration, Instant};
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for addr in [closed, silent.local_addr().unwrap()] {
        let mut cfg = graph::Neo4jConfig::new(&addr.to_string(), "neo4j", "x");
        cfg.timeout = Duration::from_secs(2);
        let t0 = Instant::now();
        let err = graph::Neo4jGraph::connect(cfg).unwrap_err();
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "took {:?}",
            t0.elapsed()
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&addr.to_string()) || msg.contains("no answer"),
            "{msg}"
        );
    }
}

mod equivalence {
    //! The RocksDB backend agrees with the in-memory oracle on random
    //! sequences of changes and random queries.

    use graph::traverse::Path;
    use graph::{EdgeFilter, EdgeKey, GraphOp, MemGraph, Node, RelationStore, RocksGraph};
    use model::{NodeRef, RelKind};
    use proptest::prelude::*;

    use super::{edge, h, p, v};

    fn node(i: u8) -> NodeRef {
        match i % 8 {
            0..=4 => p(&format!("p{}", i % 8)),
            5 | 6 => h(&format!("h{}", i % 8)),
            _ => v("苏J12345"),
        }
    }

    const KINDS: [RelKind; 4] = [
        RelKind::Companion,
        RelKind::Kin,
        RelKind::LivesIn,
        RelKind::Drives,
    ];

    fn op() -> impl Strategy<Value = GraphOp> {
        prop_oneof![
            (
                0u8..8,
                0u8..8,
                0usize..4,
                0u8..2,
                1u32..6,
                0i64..20,
                0i64..10
            )
                .prop_filter_map("no loops", |(a, b, k, c, s, t, d)| {
                    (node(a) != node(b)).then(|| {
                        GraphOp::Upsert(edge(
                            KINDS[k],
                            node(a),
                            node(b),
                            ["", "x"][c as usize],
                            s,
                            (t % 3 != 0).then_some((t, t + d)),
                        ))
                    })
                }),
            (0u8..8, 0u8..8, 0usize..4, 0u8..2).prop_map(|(a, b, k, c)| GraphOp::Remove(
                EdgeKey::new(KINDS[k], node(a), node(b), ["", "x"][c as usize])
            )),
            (0u8..8, 0u8..3).prop_map(|(a, l)| GraphOp::Node(Node {
                node: node(a),
                label: format!("L{l}")
            })),
            (0u8..16).prop_filter_map("rare", |a| (a >= 14).then(|| GraphOp::RemoveNode(node(a)))),
        ]
    }

    fn filter() -> impl Strategy<Value = EdgeFilter> {
        (
            prop::collection::vec(0usize..4, 0..3),
            0u32..4,
            prop::option::of(0i64..25),
        )
            .prop_map(|(ks, min, to)| EdgeFilter {
                kinds: ks.into_iter().map(|k| KINDS[k]).collect(),
                min_strength: min,
                to: to.map(|d| model::Timestamp(d * 86_400_000)),
                from: None,
            })
    }

    fn paths(ps: Vec<Path>) -> Vec<Vec<NodeRef>> {
        ps.into_iter().map(|p| p.nodes).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn rocksdb_agrees_with_the_oracle(
            batches in prop::collection::vec(prop::collection::vec(op(), 1..12), 1..6),
            f in filter(),
            a in 0u8..8, b in 0u8..8, hops in 0u32..4, cap in 1usize..9,
        ) {
            let mem = MemGraph::new();
            let dir = tempfile::tempdir().unwrap();
            let store = crate::open(dir.path());
            let rocks = RocksGraph::new(&store);
            for batch in &batches {
                mem.apply(batch).unwrap();
                rocks.apply(batch).unwrap();
            }
            prop_assert_eq!(mem.export().unwrap(), rocks.export().unwrap());
            let (a, b) = (node(a), node(b));
            prop_assert_eq!(mem.neighbours(&a, &f, 3).unwrap(), rocks.neighbours(&a, &f, 3).unwrap());
            prop_assert_eq!(mem.subgraph(std::slice::from_ref(&a), hops, &f, cap).unwrap(), rocks.subgraph(std::slice::from_ref(&a), hops, &f, cap).unwrap());
            let found = mem.shortest_paths(&a, &b, &f, 4, 5).unwrap();
            // the length is the breadth-first distance, and each hop is a real edge
            let reach = mem.subgraph(std::slice::from_ref(&a), 4, &f, 1000).unwrap();
            let dist = reach.nodes.iter().find(|(n, _)| n.node == b).map(|(_, d)| *d as usize);
            prop_assert_eq!(found.first().map(|p| p.edges.len()), dist);
            for path in &found {
                for (i, e) in path.edges.iter().enumerate() {
                    prop_assert!(f.allows(e));
                    prop_assert_eq!(e.key.other(&path.nodes[i]), Some(&path.nodes[i + 1]));
                }
            }
            prop_assert_eq!(paths(found), paths(rocks.shortest_paths(&a, &b, &f, 4, 5).unwrap()));
            if a != b {
                prop_assert_eq!(mem.common_associates(&[a.clone(), b.clone()], &f, 5).unwrap(), rocks.common_associates(&[a, b], &f, 5).unwrap());
            }
        }

        /// The Neo4j backend (batches regrouped into few statements) agrees
        /// with the oracle too.
        #[cfg(feature = "neo4j")]
        #[test]
        fn neo4j_agrees_with_the_oracle(
            batches in prop::collection::vec(prop::collection::vec(op(), 1..12), 1..4),
            f in filter(),
            a in 0u8..8, b in 0u8..8,
        ) {
            let Some(fx) = super::neo4j("neo4j_equivalence") else { return Ok(()) };
            fx.graph.clear().unwrap();
            let mem = MemGraph::new();
            for batch in &batches {
                mem.apply(batch).unwrap();
                fx.graph.apply(batch).unwrap();
            }
            prop_assert_eq!(mem.export().unwrap(), fx.graph.export().unwrap());
            let (a, b) = (node(a), node(b));
            prop_assert_eq!(mem.neighbours(&a, &f, 3).unwrap(), fx.graph.neighbours(&a, &f, 3).unwrap());
            prop_assert_eq!(paths(mem.shortest_paths(&a, &b, &f, 4, 5).unwrap()), paths(fx.graph.shortest_paths(&a, &b, &f, 4, 5).unwrap()));
        }
    }
}
