//! The ingest pipeline: files → parser thread → batches → a [`RecordSink`].
//!
//! A batch is handed to the sink whole; the sink acknowledges it only once it
//! is durable, and only then is it counted. Parsing runs on its own thread so
//! that it overlaps with the sink's writes (group commit: one durable write per
//! batch, not per record).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use model::{Record, WriteOutcome};

use crate::csv_base::{csv_type_for_file, parse_csv};
use crate::wire::{ParseConfig, parse_line};
use crate::{Error, FieldProblem, Result};

/// The store could not take a batch; nothing of the batch was acknowledged.
/// It is the store's own error (shown as it is; a caller may downcast it,
/// e.g. to tell a full disk).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SinkError(pub Box<dyn std::error::Error + Send + Sync>);

impl SinkError {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(e.into())
    }
}

/// Where validated records go. `write` returns once the batch is durable,
/// with one outcome per record.
pub trait RecordSink {
    fn write(&mut self, batch: &[Record]) -> std::result::Result<Vec<WriteOutcome>, SinkError>;
}

/// Observes a run: rejected records as they are found, and the running summary
/// after every acknowledged batch.
pub trait Progress: Sync {
    fn rejected(&self, _source: &Path, _line: u64, _problems: &[FieldProblem]) {}
    fn acknowledged(&self, _summary: &Summary) {}
}

/// Counts for one record type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCounts {
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub rejected: u64,
}

/// What a run did, per record type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub by_type: BTreeMap<String, TypeCounts>,
    pub files: u64,
    pub bytes_read: u64,
}

impl TypeCounts {
    /// Records the sink acknowledged: accepted, duplicates and conflicts.
    pub fn acknowledged(&self) -> u64 {
        self.accepted + self.duplicates + self.conflicts
    }
}

impl Summary {
    pub fn total(&self) -> TypeCounts {
        self.by_type
            .values()
            .fold(TypeCounts::default(), |a, c| TypeCounts {
                accepted: a.accepted + c.accepted,
                duplicates: a.duplicates + c.duplicates,
                conflicts: a.conflicts + c.conflicts,
                rejected: a.rejected + c.rejected,
            })
    }
}

/// Pipeline settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub parse: ParseConfig,
    /// Records per durable write.
    pub batch_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parse: ParseConfig::default(),
            batch_size: 4096,
        }
    }
}

/// Expands the given paths into the files to ingest, in a stable order:
/// directories are walked recursively (files sorted by path, other files such
/// as `truth.json` skipped); a file named explicitly must be ingestible.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else if is_ingestible(p) {
            out.push(p.clone());
        } else {
            return Err(Error::UnknownFile { path: p.clone() });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    // Base-data CSV first, so events rarely wait for the devices they name.
    entries.sort_by_key(|p| csv_type_for_file(p).is_none());
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_ingestible(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn is_ingestible(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") || csv_type_for_file(p).is_some()
}

/// A batch from the parser thread: records in file order, and the types of
/// the records it rejected.
struct Parsed {
    records: Vec<Record>,
    rejected: Vec<String>,
    bytes: u64,
    files: u64,
}

/// Runs the pipeline over `files` (see [`collect_files`]). Returns the summary
/// once every accepted record is durable. A sink failure stops the run: what
/// was acknowledged before it stays, the rest can be ingested again.
pub fn run(
    files: &[PathBuf],
    opts: &Options,
    sink: &mut dyn RecordSink,
    progress: &dyn Progress,
) -> Result<Summary> {
    let (tx, rx) = crossbeam_channel::bounded::<Result<Parsed>>(4);
    std::thread::scope(|s| {
        // the parser owns the sender: when it is done the channel closes
        s.spawn(move || parse_files(files, opts, progress, &tx));
        let mut summary = Summary::default();
        for parsed in &rx {
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => {
                    drop(rx);
                    return Err(e);
                }
            };
            let outcomes = if parsed.records.is_empty() {
                Vec::new()
            } else {
                sink.write(&parsed.records)?
            };
            for (r, o) in parsed.records.iter().zip(outcomes) {
                let c = summary.by_type.entry(r.type_name().to_owned()).or_default();
                match o {
                    WriteOutcome::Accepted => c.accepted += 1,
                    WriteOutcome::Duplicate => c.duplicates += 1,
                    WriteOutcome::Conflict => c.conflicts += 1,
                }
            }
            for ty in parsed.rejected {
                summary.by_type.entry(ty).or_default().rejected += 1;
            }
            summary.bytes_read += parsed.bytes;
            summary.files += parsed.files;
            progress.acknowledged(&summary);
        }
        Ok(summary)
    })
}

fn parse_files(
    files: &[PathBuf],
    opts: &Options,
    progress: &dyn Progress,
    tx: &crossbeam_channel::Sender<Result<Parsed>>,
) {
    let new_batch = || Parsed {
        records: Vec::with_capacity(opts.batch_size),
        rejected: Vec::new(),
        bytes: 0,
        files: 0,
    };
    let mut batch = new_batch();
    for path in files {
        let mut each =
            |line: u64, ty: Option<&str>, r: Result<Option<Record>, Vec<FieldProblem>>| {
                match r {
                    Ok(Some(rec)) => batch.records.push(rec),
                    Ok(None) => {}
                    Err(problems) => {
                        progress.rejected(path, line, &problems);
                        batch
                            .rejected
                            .push(ty.map_or_else(|| "(unreadable)".to_owned(), rejected_type));
                    }
                }
                if batch.records.len() >= opts.batch_size {
                    let full = std::mem::replace(&mut batch, new_batch());
                    tx.send(Ok(full)).is_ok()
                } else {
                    true
                }
            };
        let result = read_file(path, &opts.parse, &mut each);
        match result {
            Ok(bytes) => {
                batch.bytes += bytes;
                batch.files += 1;
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
    let _ = tx.send(Ok(batch));
}

/// The summary key of a rejected record: its type when the contract knows
/// it, else `(unknown type)`.
fn rejected_type(ty: &str) -> String {
    if model::BaseKind::parse(ty).is_some() || model::EventKind::parse(ty).is_some() {
        ty.to_owned()
    } else {
        "(unknown type)".to_owned()
    }
}

type Each<'a> =
    dyn FnMut(u64, Option<&str>, Result<Option<Record>, Vec<FieldProblem>>) -> bool + 'a;

/// Reads one file, calling `each` per line; stops early when `each` returns
/// false (the consumer has gone). Returns the bytes read.
fn read_file(path: &Path, cfg: &ParseConfig, each: &mut Each<'_>) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let counting = CountingReader { inner: file, n: 0 };
    if let Some(ty) = csv_type_for_file(path) {
        let mut counting = counting;
        parse_csv(&mut counting, ty, cfg, |line, r| {
            each(line, Some(ty), r.map(Some));
        });
        return Ok(counting.n);
    }
    let mut reader: Box<dyn BufRead> = if name.ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(counting),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, counting))
    };
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        let keep_going = match std::str::from_utf8(&buf) {
            Ok(line) => {
                let parsed = parse_line(line, cfg);
                let ty = if parsed.is_err() {
                    type_hint(line)
                } else {
                    None
                };
                each(line_no, ty.as_deref(), parsed)
            }
            Err(e) => each(
                line_no,
                None,
                Err(vec![FieldProblem::new(
                    "-",
                    format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
                )]),
            ),
        };
        if !keep_going {
            break;
        }
    }
    Ok(bytes)
}

/// The `type` of a rejected line, for the per-type summary.
fn type_hint(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("type")?.as_str().map(str::to_owned)
}

struct CountingReader<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails on its second batch.
    struct Failing(usize);

    impl RecordSink for Failing {
        fn write(&mut self, batch: &[Record]) -> std::result::Result<Vec<WriteOutcome>, SinkError> {
            self.0 += 1;
            if self.0 == 2 {
                return Err(SinkError::new("disk on fire"));
            }
            Ok(vec![WriteOutcome::Accepted; batch.len()])
        }
    }

    struct Quiet;
    impl Progress for Quiet {}

    #[test]
    fn a_sink_failure_stops_the_run_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let line = r#"{"type":"door_sensor","id":"ID","device":"D","time":"2026-11-20T07:31:05+08:00","state":"open"}"#;
        let body: String = (0..5000)
            .map(|i| line.replace("ID", &i.to_string()) + "\n")
            .collect();
        std::fs::write(&path, body).unwrap();
        // small batches and a bounded channel: the parser is blocked sending when the sink fails
        let opts = Options {
            batch_size: 10,
            ..Options::default()
        };
        let err = run(&[path], &opts, &mut Failing(0), &Quiet).unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        // the whole chain, as the CLI prints it, says it once
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            chain += &format!(": {s}");
            source = s.source();
        }
        assert_eq!(chain, "store failed: disk on fire");
    }
}
