//! The full-text index (tantivy): every person, house, vehicle, community
//! and device findable the way an officer types.
//!
//! A document holds only what finding and ranking need: its key (the one
//! stored field), its kind, where it is (communities, region paths) and
//! tags as facets, and the searchable text as index terms:
//!
//! * `name` / `text`: Chinese words (jieba) for names and for addresses and
//!   categories; `chars`: every character of both, so a single character
//!   still finds; `bigrams`: every two adjacent characters of both, so an
//!   unsegmented fragment finds as all its pairs (a million names and
//!   addresses share every common character thousands of times, but few
//!   pairs: intersecting the pairs of `冯杰明` reads hundreds of postings
//!   where its characters read tens of thousands);
//! * `pinyin`: full pinyin and initials of names (`zhangwei`, `zw`), with
//!   the readings of heteronyms (capped);
//! * `ident`, `ident_rev`: identifiers (identity numbers, phones, plates,
//!   card numbers) normalised — upper case, no separators — forwards and
//!   reversed, for full, prefix, suffix, masked and wildcard matches (a
//!   wildcard term is walked from its longer literal end: forwards from a
//!   prefix, over the reversed terms from a suffix);
//! * `ident_rev_cjk`: the reversed identifiers that hold a Chinese
//!   character (plates), walked instead of `ident_rev` by a wildcard term
//!   that holds one: `苏J*869` walks the plates ending in `869`, not every
//!   identity number and phone that does;
//! * `ident_sub`: the fragments of short identifiers (≤ 12 characters)
//!   that hold a letter and a digit — a plate's `B123`, `浙B1` — so a plate
//!   fragment is one term, not a walk over every identifier.
//!
//! Nothing else is stored: a hit is a key, the caller reads the archive from
//! the store of record (and checks access there). Equal scores are ordered
//! by a hash of the key (a column), so pages are stable whatever the
//! segment layout; the document store (uncompressed, small blocks) is read
//! for the hits of the page only. An index written in another layout (an
//! earlier version) is refused as [`TextError::Layout`] and rebuilt.
//!
//! Query syntax: whitespace-separated terms, all of which must match.
//! A term of digits matches identifiers by full value, prefix or suffix
//! (≥ 4 digits); in a term `*` stands for any run of characters and `?`
//! for exactly one (`3301*1234`, `138????5678`, `浙B*2345`, `*2345`);
//! Latin letters match pinyin (full, prefix, initials, one typo for longer
//! ones) and identifiers; Chinese matches words of names and text and, as
//! a fragment (every two adjacent characters present), any part of them; a
//! lone character matches wherever it is.

use std::path::Path;
use std::sync::Mutex;

use pinyin::ToPinyinMulti;

use crate::automata::{AutomatonQuery, Glob, StrictPrefix};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{Count, TopDocs};

use crate::facets::{FacetCounter, FacetTables};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::store::Compressor;
use tantivy::tokenizer::{LowerCaser, NgramTokenizer, TextAnalyzer, TokenStream};
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};

/// Errors of the full-text index.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("full-text index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("full-text index at {0}: {1}")]
    Open(String, String),
    #[error("the full-text index was opened for reading only")]
    ReadOnly,
    #[error("query: {0}")]
    Query(String),
    /// The index was written with another schema (an earlier version):
    /// derived state, to be rebuilt from the store.
    #[error(
        "the full-text index at {0} was written by an earlier version: the next projection (anju project, ingest or serve) rebuilds it"
    )]
    Layout(String),
}

pub type TextResult<T> = std::result::Result<T, TextError>;

/// What one entity contributes to the index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextDoc {
    /// The entity (`person:…`, `house:…`, …): the only stored value.
    pub key: String,
    /// `person`, `house`, `vehicle`, `community`, `device`.
    pub kind: String,
    /// Names (Chinese words, characters and pinyin).
    pub names: Vec<String>,
    /// Addresses, categories, descriptions (words and characters).
    pub text: Vec<String>,
    /// Identity numbers, phones, plates, card numbers.
    pub idents: Vec<String>,
    pub tags: Vec<String>,
    pub communities: Vec<String>,
    /// Where it is: region codes from the top down, one path per place.
    pub regions: Vec<Vec<String>>,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct TextQuery<'a> {
    pub text: &'a str,
    /// Any of these kinds (empty: all).
    pub kinds: &'a [String],
    /// Within any of these regions (each a path from the top; a region
    /// includes all below it). Empty: anywhere.
    pub regions: &'a [Vec<String>],
    /// In any of these communities (empty: any).
    pub communities: &'a [String],
    /// With all of these tags.
    pub tags: &'a [String],
    pub offset: usize,
    pub limit: usize,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    pub key: String,
    pub score: f32,
}

/// Results of a search: a page of hits, the total and facet counts over
/// all matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextResults {
    pub total: usize,
    pub hits: Vec<TextHit>,
    pub kinds: Vec<(String, u64)>,
    pub tags: Vec<(String, u64)>,
    pub communities: Vec<(String, u64)>,
    /// Counts by the regions one level below the region filter (or by the
    /// top regions without one).
    pub regions: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    key: Field,
    key_order: Field,
    facets: Field,
    name: Field,
    text: Field,
    chars: Field,
    bigrams: Field,
    pinyin: Field,
    ident: Field,
    ident_rev: Field,
    /// The reversed identifiers holding a CJK character (plates).
    ident_rev_cjk: Field,
    /// Fragments of short identifiers with letters and digits (plates):
    /// every substring holding both, so a fragment is one term.
    ident_sub: Field,
}

fn schema() -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let words = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let f = Fields {
        // stored (the document store holds nothing else, uncompressed):
        // read for the hits of a page only
        key: sb.add_text_field("key", STRING | STORED),
        // equal scores are ordered by this hash of the key (a column)
        key_order: sb.add_u64_field("key_order", FAST),
        facets: sb.add_facet_field("facets", FacetOptions::default()),
        name: sb.add_text_field("name", words("jieba")),
        text: sb.add_text_field("text", words("jieba")),
        chars: sb.add_text_field("chars", words("chars")),
        bigrams: sb.add_text_field("bigrams", words("bigrams")),
        pinyin: sb.add_text_field("pinyin", STRING),
        ident: sb.add_text_field("ident", STRING),
        ident_rev: sb.add_text_field("ident_rev", STRING),
        ident_rev_cjk: sb.add_text_field("ident_rev_cjk", STRING),
        ident_sub: sb.add_text_field("ident_sub", STRING),
    };
    (sb.build(), f)
}

/// Whether some term of `field` starts with `prefix` (or is it).
fn has_prefix(searcher: &Searcher, field: Field, prefix: &str) -> TextResult<bool> {
    for seg in searcher.segment_readers() {
        let inverted = seg.inverted_index(field)?;
        let mut terms = inverted
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .into_stream()
            .map_err(tantivy::TantivyError::from)?;
        if terms.advance() && terms.key().starts_with(prefix.as_bytes()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Identifiers up to this many characters are indexed by their fragments.
const FRAGMENTS_UP_TO: usize = 12;

/// Whether a fragment search applies: a letter (or CJK) and a digit.
fn is_fragment(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit()) && s.chars().any(char::is_alphabetic)
}

/// The substrings of a short normalised identifier that hold a letter and
/// a digit (a plate's `B123`, `浙B1`, `B12345`), each once.
fn fragments(ident: &str) -> Vec<String> {
    let chars: Vec<char> = ident.chars().collect();
    if chars.len() > FRAGMENTS_UP_TO || !is_fragment(ident) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..chars.len() {
        for j in i + 2..=chars.len() {
            let f: String = chars[i..j].iter().collect();
            if is_fragment(&f) {
                out.push(f);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The order of equal scores: FNV-1a of the key (stable across versions
/// and segment layouts).
fn key_order(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Upper case, letters and digits only (and CJK, for plates).
pub fn normalise_ident(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The terms of a query that are numbers — digits (at least three) with
/// nothing but wildcards, separators and an identity number's check `X`
/// among them: they can only match identity numbers, phones and card
/// numbers (a plate always holds a letter or a Chinese character).
pub fn number_terms(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|t| {
            let digits = t.chars().filter(char::is_ascii_digit).count();
            digits >= 3
                && t.chars().all(|c| {
                    c.is_ascii_digit() || matches!(c, '*' | '?' | '-' | '+' | '.' | 'X' | 'x')
                })
        })
        .collect()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// Full pinyin and initials of a name, for each combination of readings
/// (at most `cap`).
fn pinyin_forms(name: &str, cap: usize) -> Vec<String> {
    let mut combos: Vec<(String, String)> = vec![(String::new(), String::new())];
    for c in name.chars() {
        let readings: Vec<&str> = match c.to_pinyin_multi() {
            Some(m) => m.into_iter().map(|p| p.plain()).collect(),
            None if c.is_ascii_alphanumeric() => {
                for (full, init) in &mut combos {
                    full.push(c.to_ascii_lowercase());
                    init.push(c.to_ascii_lowercase());
                }
                continue;
            }
            None => continue,
        };
        let mut next = Vec::new();
        for (full, init) in &combos {
            for r in &readings {
                if next.len() >= cap {
                    break;
                }
                next.push((format!("{full}{r}"), format!("{init}{}", &r[..1])));
            }
        }
        combos = next;
    }
    let mut out = Vec::new();
    for (full, init) in combos {
        if !full.is_empty() {
            out.push(full);
            out.push(init);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The full-text index of one deployment, with its checkpoint.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    /// None when opened for reading only.
    writer: Option<Mutex<IndexWriter>>,
    f: Fields,
    /// Each searched segment's facets, read once (see `facets`).
    facet_tables: FacetTables,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex")
            .field("docs", &self.reader.searcher().num_docs())
            .finish()
    }
}

impl TextIndex {
    /// Opens (creating if needed) the index in `dir`; `writer_mb` is the
    /// indexing memory budget.
    pub fn open(dir: &Path, writer_mb: usize) -> TextResult<Self> {
        Self::open_with(dir, Some(writer_mb))
    }

    /// Opens an existing index for searching only (no writer lock: an
    /// ingest may be writing meanwhile; reopen to see its commits).
    pub fn open_reader(dir: &Path) -> TextResult<Self> {
        Self::open_with(dir, None)
    }

    fn open_with(dir: &Path, writer_mb: Option<usize>) -> TextResult<Self> {
        let open_err =
            |e: &dyn std::fmt::Display| TextError::Open(dir.display().to_string(), e.to_string());
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let (schema, f) = schema();
        let directory = MmapDirectory::open(dir).map_err(|e| open_err(&e))?;
        if Index::exists(&directory).map_err(|e| open_err(&e))?
            && Index::open(directory.clone())?.schema() != schema
        {
            return Err(TextError::Layout(dir.display().to_string()));
        }
        // the store holds only keys: small blocks, read without decompressing
        let settings = IndexSettings {
            docstore_compression: Compressor::None,
            docstore_blocksize: 1024,
            ..IndexSettings::default()
        };
        let index = Index::builder()
            .settings(settings)
            .schema(schema)
            .open_or_create(directory)?;
        let chars =
            TextAnalyzer::builder(NgramTokenizer::new(1, 1, false).map_err(|e| open_err(&e))?)
                .filter(LowerCaser)
                .build();
        index.tokenizers().register("chars", chars);
        let bigrams =
            TextAnalyzer::builder(NgramTokenizer::new(2, 2, false).map_err(|e| open_err(&e))?)
                .filter(LowerCaser)
                .build();
        index.tokenizers().register("bigrams", bigrams);
        let jieba = TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new())
            .filter(LowerCaser)
            .build();
        index.tokenizers().register("jieba", jieba);
        let writer = match writer_mb {
            Some(mb) => Some(Mutex::new(index.writer(mb.max(15) << 20)?)),
            None => None,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer,
            f,
            facet_tables: FacetTables::default(),
        })
    }

    fn writer(&self) -> TextResult<std::sync::MutexGuard<'_, IndexWriter>> {
        match &self.writer {
            Some(w) => Ok(w.lock().unwrap_or_else(|p| p.into_inner())),
            None => Err(TextError::ReadOnly),
        }
    }

    /// The checkpoint recorded by the last commit.
    pub fn checkpoint(&self) -> TextResult<Option<String>> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Replaces the document of `doc.key` (visible after the next commit).
    pub fn put(&self, doc: &TextDoc) -> TextResult<()> {
        let f = self.f;
        let mut d = TantivyDocument::default();
        d.add_text(f.key, &doc.key);
        d.add_u64(f.key_order, key_order(&doc.key));
        d.add_facet(f.facets, facet(&["kind", &doc.kind]));
        for t in &doc.tags {
            d.add_facet(f.facets, facet(&["tag", t]));
        }
        for c in &doc.communities {
            d.add_facet(f.facets, facet(&["community", c]));
        }
        for path in &doc.regions {
            let mut p: Vec<&str> = vec!["region"];
            p.extend(path.iter().map(String::as_str));
            d.add_facet(f.facets, facet(&p));
        }
        for n in &doc.names {
            d.add_text(f.name, n);
            d.add_text(f.chars, n);
            d.add_text(f.bigrams, n);
            for p in pinyin_forms(n, 8) {
                d.add_text(f.pinyin, p);
            }
        }
        for t in doc.text.iter().chain(&doc.tags) {
            d.add_text(f.text, t);
            d.add_text(f.chars, t);
            d.add_text(f.bigrams, t);
        }
        for i in &doc.idents {
            let n = normalise_ident(i);
            if !n.is_empty() {
                let rev: String = n.chars().rev().collect();
                if n.chars().any(is_cjk) {
                    d.add_text(f.ident_rev_cjk, &rev);
                }
                d.add_text(f.ident_rev, rev);
                for frag in fragments(&n) {
                    d.add_text(f.ident_sub, frag);
                }
                d.add_text(f.ident, n);
            }
        }
        let w = self.writer()?;
        w.delete_term(Term::from_field_text(f.key, &doc.key));
        w.add_document(d)?;
        Ok(())
    }

    /// Removes the document of `key` (after the next commit).
    pub fn delete(&self, key: &str) -> TextResult<()> {
        self.writer()?
            .delete_term(Term::from_field_text(self.f.key, key));
        Ok(())
    }

    /// Makes everything put so far durable and visible, recording
    /// `checkpoint` in the same commit.
    pub fn commit(&self, checkpoint: &str) -> TextResult<()> {
        let mut w = self.writer()?;
        let mut pc = w.prepare_commit()?;
        pc.set_payload(checkpoint);
        pc.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Merges every segment into one and waits for it (the checkpoint is
    /// kept). A search costs per segment — facets, columns and automata
    /// are set up for each — so after a bulk load one segment answers
    /// several times faster; later commits add segments that tantivy's
    /// merge policy folds in the background.
    pub fn merge_all(&self) -> TextResult<()> {
        let mut w = self.writer()?;
        // a merge the merge policy started after the last commit may take
        // some of the segments first: tantivy then refuses this one (an
        // invalid argument), and the segments are listed again
        let mut attempt = 0;
        loop {
            let ids = self.index.searchable_segment_ids()?;
            if ids.len() <= 1 {
                break;
            }
            match w.merge(&ids).wait() {
                Ok(_) => break,
                Err(tantivy::TantivyError::InvalidArgument(why)) if attempt < 20 => {
                    tracing::debug!(why, "segments merged meanwhile; listing them again");
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // searches move to the merged segment, then the others' files go
        self.reader.reload()?;
        w.garbage_collect_files().wait()?;
        Ok(())
    }

    /// The number of segments searches go through.
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Deletes every document (committed at once, with no checkpoint).
    /// The index's files whose checksums do not match their content (a
    /// flipped byte, a truncated file); empty when all are whole.
    pub fn corrupt_files(&self) -> TextResult<Vec<std::path::PathBuf>> {
        let mut v: Vec<_> = self.index.validate_checksum()?.into_iter().collect();
        v.sort();
        Ok(v)
    }

    pub fn clear(&self) -> TextResult<()> {
        let mut w = self.writer()?;
        w.delete_all_documents()?;
        w.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    fn term_query(&self, searcher: &Searcher, text: &str) -> TextResult<Box<dyn Query>> {
        let f = self.f;
        let any = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                qs.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        };
        let boost =
            |q: Box<dyn Query>, b: f32| -> Box<dyn Query> { Box::new(BoostQuery::new(q, b)) };
        let prefix = |p: &str, field: Field| -> Box<dyn Query> {
            Box::new(AutomatonQuery::new(field, StrictPrefix::new(p)))
        };
        let term = |field: Field, t: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, t),
                IndexRecordOption::WithFreqs,
            ))
        };
        let wild = text.contains(['*', '?']);
        let ident = normalise_ident(text);
        let mut qs: Vec<Box<dyn Query>> = Vec::new();
        if wild {
            let pattern: String = text
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '*' || *c == '?')
                .flat_map(char::to_uppercase)
                .collect();
            if pattern.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
                return Err(TextError::Query(format!(
                    "`{text}`: a wildcard term needs at least two other characters (a Chinese character alone matches wherever it is: drop the `*`)"
                )));
            }
            // walked from its longer literal end: a prefix prunes the term
            // dictionary, a suffix prunes the reversed one
            let run = |cs: &mut dyn Iterator<Item = char>| {
                cs.take_while(|c| *c != '*' && *c != '?').count()
            };
            let (head, tail) = (run(&mut pattern.chars()), run(&mut pattern.chars().rev()));
            // only an identifier holding a Chinese character can match a
            // pattern that holds one
            let (field, pattern) = if tail >= head {
                let field = if pattern.chars().any(is_cjk) {
                    f.ident_rev_cjk
                } else {
                    f.ident_rev
                };
                (field, pattern.chars().rev().collect())
            } else {
                (f.ident, pattern)
            };
            let glob = Glob::new(&pattern).ok_or_else(|| {
                TextError::Query(format!(
                    "`{text}`: a wildcard term is at most {} bytes long",
                    Glob::MAX
                ))
            })?;
            qs.push(Box::new(AutomatonQuery::new(field, glob)));
            return Ok(any(qs));
        }
        if ident.is_empty() {
            return Err(TextError::Query(format!(
                "`{text}` has nothing to search for"
            )));
        }
        let has_cjk = text.chars().any(is_cjk);
        let has_digit = ident.chars().any(|c| c.is_ascii_digit());
        let ascii_letters = text.chars().all(|c| c.is_ascii_alphabetic());
        // identifiers: whole value first, then prefix and suffix
        qs.push(boost(term(f.ident, &ident), 8.0));
        if ident.chars().count() >= 4 && (has_digit || !has_cjk) {
            qs.push(boost(prefix(&ident, f.ident), 3.0));
            let rev: String = ident.chars().rev().collect();
            qs.push(boost(prefix(&rev, f.ident_rev), 3.0));
        }
        if is_fragment(&ident) {
            // a fragment of a plate (`B1234`, `浙B123`): anywhere in it
            qs.push(boost(term(f.ident_sub, &ident), 2.0));
        }
        if ascii_letters {
            let lower = text.to_ascii_lowercase();
            qs.push(boost(term(f.pinyin, &lower), 5.0));
            if lower.len() >= 2 {
                qs.push(boost(prefix(&lower, f.pinyin), 2.0));
            }
            // one typo, where it helps: only when no reading starts with
            // what was typed (a name typed right is not padded with every
            // name one letter away)
            if lower.len() >= 5 && !has_prefix(searcher, f.pinyin, &lower)? {
                qs.push(Box::new(FuzzyTermQuery::new(
                    Term::from_field_text(f.pinyin, &lower),
                    1,
                    true,
                )));
            }
        }
        if has_cjk {
            // words (jieba) rank; a fragment (its pairs present) also finds
            let mut words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let mut analyzer = self
                .index
                .tokenizers()
                .get("jieba")
                .ok_or_else(|| TextError::Query("no Chinese tokenizer".into()))?;
            let mut s = analyzer.token_stream(text);
            while s.advance() {
                let w = s.token().text.clone();
                if w.trim().is_empty() {
                    continue;
                }
                words.push((Occur::Should, boost(term(f.name, &w), 4.0)));
                words.push((Occur::Should, term(f.text, &w)));
            }
            // each run of letters and digits: its pairs (a lone character:
            // itself)
            let mut present: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for run in text.split(|c: char| !c.is_alphanumeric()) {
                let cs: Vec<String> = run.chars().map(|c| c.to_lowercase().collect()).collect();
                match cs.as_slice() {
                    [] => {}
                    [one] => present.push((Occur::Must, term(f.chars, one))),
                    _ => present.extend(
                        cs.windows(2)
                            .map(|w| (Occur::Must, term(f.bigrams, &w.concat()))),
                    ),
                }
            }
            let mut both: Vec<(Occur, Box<dyn Query>)> = vec![(
                Occur::Must,
                Box::new(BooleanQuery::new(present)) as Box<dyn Query>,
            )];
            if !words.is_empty() {
                both.push((Occur::Should, Box::new(BooleanQuery::new(words))));
            }
            qs.push(Box::new(BooleanQuery::new(both)));
        } else {
            // Latin words and numbers in text (a brand, a room number)
            qs.push(term(f.text, &text.to_lowercase()));
        }
        Ok(any(qs))
    }

    /// Runs a search: ranked, paged, filtered; total and facets over all
    /// matches.
    pub fn search(&self, q: &TextQuery<'_>) -> TextResult<TextResults> {
        let f = self.f;
        let searcher = self.reader.searcher();
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in q.text.split_whitespace() {
            must.push((Occur::Must, self.term_query(&searcher, t)?));
        }
        if must.is_empty() {
            return Err(TextError::Query("the query is empty".into()));
        }
        let facet_term = |path: &[&str]| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_facet(f.facets, &facet(path)),
                IndexRecordOption::Basic,
            ))
        };
        // filters match without adding to the score
        let one_of = |terms: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(
                    terms.into_iter().map(|t| (Occur::Should, t)).collect(),
                )),
                0.0,
            ))
        };
        if !q.kinds.is_empty() {
            must.push((
                Occur::Must,
                one_of(q.kinds.iter().map(|k| facet_term(&["kind", k])).collect()),
            ));
        }
        if !q.communities.is_empty() {
            must.push((
                Occur::Must,
                one_of(
                    q.communities
                        .iter()
                        .map(|c| facet_term(&["community", c]))
                        .collect(),
                ),
            ));
        }
        if !q.regions.is_empty() {
            must.push((
                Occur::Must,
                one_of(
                    q.regions
                        .iter()
                        .map(|p| {
                            let mut path = vec!["region"];
                            path.extend(p.iter().map(String::as_str));
                            facet_term(&path)
                        })
                        .collect(),
                ),
            ));
        }
        for t in q.tags {
            must.push((Occur::Must, one_of(vec![facet_term(&["tag", t])])));
        }
        let query = BooleanQuery::new(must);
        let region_root = match q.regions {
            [one] => {
                let mut p = vec!["region".to_owned()];
                p.extend(one.iter().cloned());
                p
            }
            _ => vec!["region".to_owned()],
        };
        let region_root = facet(&region_root.iter().map(String::as_str).collect::<Vec<_>>());
        let roots = [
            facet(&["kind"]),
            facet(&["tag"]),
            facet(&["community"]),
            region_root,
        ];
        let live: Vec<_> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        self.facet_tables.retain(&live);
        let fc = FacetCounter::new("facets", &roots, &self.facet_tables);
        // best score first, equal scores in the order of their keys' hash
        // (a column): pages are stable whatever the segment layout, and
        // only the page's hits read their key
        let end = q.offset + q.limit.max(1);
        let ranked = TopDocs::with_limit(end).order_by((
            (SortBySimilarityScore, Order::Desc),
            (
                SortByStaticFastValue::<u64>::for_field("key_order"),
                Order::Asc,
            ),
        ));
        let (top, total, counts) = searcher.search(&query, &(ranked, Count, fc))?;
        let mut hits = Vec::with_capacity(q.limit);
        for ((score, _), addr) in top.into_iter().skip(q.offset) {
            let doc: TantivyDocument = searcher.doc(addr)?;
            if let Some(key) = doc.get_first(f.key).and_then(|v| v.as_str()) {
                hits.push(TextHit {
                    key: key.to_owned(),
                    score,
                });
            }
        }
        let mut leaves = counts.into_iter().map(|root| {
            let mut v: Vec<(String, u64)> = root.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        });
        let mut leaf = || leaves.next().unwrap_or_default();
        Ok(TextResults {
            total,
            hits,
            kinds: leaf(),
            tags: leaf(),
            communities: leaf(),
            regions: leaf(),
        })
    }
}

/// A facet path from its parts (a `/` inside a part is kept as text).
fn facet(parts: &[&str]) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from_path(parts.iter().copied())
}

#[cfg(test)]
mod tests;
