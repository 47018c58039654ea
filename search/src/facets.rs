//! Facet counts over the matching documents only.
//!
//! tantivy's `FacetCollector` prepares every segment by streaming the whole
//! facet dictionary (every kind, tag, community and region of the index) on
//! each query, so a query matching one document costs as much as the index
//! has facet values (~2 ms for 20,000 communities); and resolving a single
//! ordinal (`facet_from_ord`) sets up a decompressor each time (~15 µs).
//! Opening a segment's facet column also decodes its whole ordinal index
//! (~2,600 blocks for a million documents: a fifth of a name search at
//! that size). Here each segment's column is opened, and its facets read
//! in one pass, once, and both kept while the segment lives (segments never
//! change); a query then reads only the facet ordinals of the documents it
//! matches.
//!
//! The counts are those of `FacetCollector` with the same roots: for each
//! root, its children one level down, each document counted once per child.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::fastfield::FacetReader;
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// A segment's facets: encoded paths, by ordinal.
type Table = Arc<Vec<Box<[u8]>>>;

/// A segment's facet column, opened, and its facets.
#[derive(Clone)]
struct Opened {
    column: StrColumn,
    table: Table,
}

/// Each segment's facets, read once.
#[derive(Default)]
pub(crate) struct FacetTables {
    by_segment: Mutex<HashMap<SegmentId, Opened>>,
}

impl std::fmt::Debug for FacetTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacetTables")
            .field("segments", &self.lock().len())
            .finish()
    }
}

impl FacetTables {
    fn open(&self, reader: &SegmentReader, field: &str) -> tantivy::Result<Opened> {
        let segment = reader.segment_id();
        if let Some(o) = self.lock().get(&segment) {
            return Ok(o.clone());
        }
        // the same checks as `SegmentReader::facet_reader`
        let facets = reader.facet_reader(field)?;
        let column = reader.fast_fields().str(field)?.ok_or_else(|| {
            tantivy::TantivyError::SchemaError(format!("no facet column `{field}`"))
        })?;
        let mut all = Vec::with_capacity(facets.num_facets());
        let mut terms = facets.facet_dict().range().into_stream()?;
        while terms.advance() {
            all.push(Box::from(terms.key()));
        }
        let opened = Opened {
            column,
            table: Arc::new(all),
        };
        self.lock().insert(segment, opened.clone());
        Ok(opened)
    }

    /// Forgets the segments no longer searched (merged away).
    pub(crate) fn retain(&self, live: &[SegmentId]) {
        let mut m = self.lock();
        if m.len() > live.len() {
            m.retain(|id, _| live.contains(id));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Opened>> {
        self.by_segment.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts the children of each root among the matching documents (no
/// root may lie under another: a facet counts under the first root that
/// holds it).
pub(crate) struct FacetCounter<'a> {
    field: String,
    tables: &'a FacetTables,
    /// The roots' encoded paths (`\0`-separated; the root facet is empty).
    roots: Vec<Vec<u8>>,
}

/// For each root (in the order given), its children's last path component
/// and how many matching documents have a facet under them.
pub(crate) type FacetCounts = Vec<HashMap<String, u64>>;

impl<'a> FacetCounter<'a> {
    pub(crate) fn new(field: &str, roots: &[Facet], tables: &'a FacetTables) -> Self {
        Self {
            field: field.to_owned(),
            tables,
            roots: roots
                .iter()
                .map(|f| f.encoded_str().as_bytes().to_vec())
                .collect(),
        }
    }
}

/// Not resolved yet / under no root.
const UNSEEN: u32 = u32::MAX;
const NONE: u32 = u32::MAX - 1;

pub(crate) struct SegmentFacetCounter {
    reader: FacetReader,
    table: Table,
    /// facet ordinal → index into the children (or UNSEEN / NONE)
    ords: Vec<u32>,
    met: Children,
}

/// The distinct children met in a segment, and their counts.
struct Children {
    roots: Vec<Vec<u8>>,
    children: Vec<(usize, String)>,
    counts: Vec<u64>,
    by_child: HashMap<(usize, String), u32>,
}

impl Children {
    /// The child (of some root) a facet falls under.
    fn resolve(&mut self, key: &[u8]) -> u32 {
        for (i, root) in self.roots.iter().enumerate() {
            let rest = if root.is_empty() {
                key
            } else if key.len() > root.len() && key.starts_with(root) && key[root.len()] == 0 {
                &key[root.len() + 1..]
            } else {
                continue;
            };
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let child = String::from_utf8_lossy(&rest[..end]).into_owned();
            let next = self.children.len() as u32;
            let id = *self.by_child.entry((i, child.clone())).or_insert(next);
            if id == next {
                self.children.push((i, child));
                self.counts.push(0);
            }
            return id;
        }
        NONE
    }
}

impl Collector for FacetCounter<'_> {
    type Fruit = FacetCounts;
    type Child = SegmentFacetCounter;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFacetCounter> {
        let Opened { column, table } = self.tables.open(reader, &self.field)?;
        let n = table.len();
        Ok(SegmentFacetCounter {
            reader: FacetReader::new(column),
            table,
            ords: vec![UNSEEN; n],
            met: Children {
                roots: self.roots.clone(),
                children: Vec::new(),
                counts: Vec::new(),
                by_child: HashMap::new(),
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut all: FacetCounts = vec![HashMap::new(); self.roots.len()];
        for fruit in fruits {
            for (root, counts) in fruit.into_iter().enumerate() {
                for (child, n) in counts {
                    *all[root].entry(child).or_insert(0) += n;
                }
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentFacetCounter {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        // a document's ordinals are sorted, and the facets under one child
        // are contiguous in that order: count a child once per document
        let mut previous = NONE;
        for ord in self.reader.facet_ords(doc) {
            let Some(slot) = self.ords.get_mut(ord as usize) else {
                continue;
            };
            if *slot == UNSEEN {
                *slot = self.met.resolve(&self.table[ord as usize]);
            }
            let id = *slot;
            if id != NONE && id != previous {
                self.met.counts[id as usize] += 1;
            }
            previous = id;
        }
    }

    fn harvest(self) -> FacetCounts {
        let mut out: FacetCounts = vec![HashMap::new(); self.met.roots.len()];
        for ((root, child), n) in self.met.children.into_iter().zip(self.met.counts) {
            if n > 0 {
                out[root].insert(child, n);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::collector::FacetCollector;
    use tantivy::query::{AllQuery, Query, TermQuery};
    use tantivy::schema::{FacetOptions, IndexRecordOption, STRING, Schema};
    use tantivy::{Index, IndexWriter, TantivyDocument, Term};

    /// Facet paths of a document: drawn from a small tree, so documents
    /// share children, have several under one child, or none under a root.
    fn paths() -> impl Strategy<Value = Vec<String>> {
        let one = prop_oneof![
            (0..3u8).prop_map(|k| format!("/kind/k{k}")),
            (0..4u8).prop_map(|t| format!("/tag/t{t}")),
            (0..6u8).prop_map(|c| format!("/community/C{c}")),
            (0..2u8, 0..3u8, 0..3u8)
                .prop_map(|(a, b, c)| format!("/region/3{a}/3{a}0{b}/3{a}0{b}0{c}")),
            (0..2u8).prop_map(|a| format!("/region/3{a}")),
            Just("/community".to_owned()),
        ];
        prop::collection::vec(one, 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The same counts as tantivy's FacetCollector, over several
        /// segments, for all documents and for those of one word.
        #[test]
        fn counts_as_the_facet_collector_does(
            docs in prop::collection::vec((paths(), 0..3u8), 1..60),
            commit_every in 1..20usize,
        ) {
            let mut sb = Schema::builder();
            let facets = sb.add_facet_field("facets", FacetOptions::default());
            let word = sb.add_text_field("word", STRING);
            let index = Index::create_in_ram(sb.build());
            let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
            for (i, (ps, wd)) in docs.iter().enumerate() {
                let mut d = TantivyDocument::default();
                for p in ps {
                    d.add_facet(facets, Facet::from_text(p).unwrap());
                }
                d.add_text(word, format!("w{wd}"));
                w.add_document(d).unwrap();
                if (i + 1) % commit_every == 0 {
                    w.commit().unwrap();
                }
            }
            w.commit().unwrap();
            let searcher = index.reader().unwrap().searcher();
            // one cache for all the queries, as an index keeps it
            let tables = FacetTables::default();
            let queries: Vec<Box<dyn Query>> = vec![
                Box::new(AllQuery),
                Box::new(TermQuery::new(Term::from_field_text(word, "w1"), IndexRecordOption::Basic)),
            ];
            let sets: [&[&str]; 3] = [
                &["/kind", "/tag", "/community", "/region"],
                &["/kind", "/tag", "/community", "/region/31"],
                &["/"],
            ];
            for (q, roots) in queries.iter().flat_map(|q| sets.iter().map(move |r| (q, r))) {
                let root_facets: Vec<Facet> = roots.iter().map(|r| Facet::from_text(r).unwrap()).collect();
                let ours = searcher.search(q.as_ref(), &FacetCounter::new("facets", &root_facets, &tables)).unwrap();
                for (i, r) in roots.iter().enumerate() {
                    // one root per collector: it refuses nested roots
                    let mut fc = FacetCollector::for_field("facets");
                    fc.add_facet(*r);
                    let theirs = searcher.search(q.as_ref(), &fc).unwrap();
                    let expected: HashMap<String, u64> = theirs
                        .get(r)
                        .map(|(f, n)| {
                            let s = f.to_path_string();
                            (s.rsplit('/').next().unwrap_or_default().to_owned(), n)
                        })
                        .collect();
                    prop_assert_eq!(&ours[i], &expected, "root {}", r);
                }
            }
        }
    }
}
