//! The log (`faces.log`), the durable truth: its records, their
//! encoding and CRC, replay up to the last commit, and reading vectors
//! back from it.

use super::*;

pub(super) const LOG_FILE: &str = "faces.log";

pub(super) const LOG_MAGIC: &[u8; 8] = b"ANJUFLOG";

pub(super) const LOG_VERSION: u32 = 1;

/// Magic, version, dimension, generation.
pub(super) const LOG_HEADER: u64 = 24;

pub(super) const REC_MAGIC: u32 = 0x4543_4146; // "FACE" little-endian

/// Magic, body length, CRC-32 of the body.
pub(super) const REC_HEAD: u64 = 12;

pub(super) const MAX_BODY: u32 = 1 << 24;

pub(super) const TAG_ADD: u8 = 1;

pub(super) const TAG_DEL: u8 = 2;

pub(super) const TAG_COMMIT: u8 = 3;

/// One record read from the log.
pub(super) enum Rec<'a> {
    Add {
        slot: u32,
        entity: &'a str,
        scope: &'a str,
        /// Offset of the vector within the body.
        vector_at: usize,
    },
    Del {
        slot: u32,
    },
    Commit {
        next: u32,
        checkpoint: &'a str,
    },
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(super) fn str_at(b: &[u8], at: usize, len: usize) -> Option<&str> {
    std::str::from_utf8(b.get(at..at + len)?).ok()
}

/// Parses a record body whose checksum matched; `None` if it does not
/// decode (damage).
pub(super) fn parse(body: &[u8], dim: usize) -> Option<Rec<'_>> {
    match *body.first()? {
        TAG_ADD => {
            let slot = u32_at(body, 1)?;
            let el = u16_at(body, 5)? as usize;
            let entity = str_at(body, 7, el)?;
            let sl = u16_at(body, 7 + el)? as usize;
            let scope = str_at(body, 9 + el, sl)?;
            let vector_at = 9 + el + sl;
            (body.len() == vector_at + dim * 4).then_some(Rec::Add {
                slot,
                entity,
                scope,
                vector_at,
            })
        }
        TAG_DEL => (body.len() == 5).then(|| Rec::Del {
            slot: u32_at(body, 1).unwrap_or(0),
        }),
        TAG_COMMIT => Some(Rec::Commit {
            next: u32_at(body, 1)?,
            checkpoint: std::str::from_utf8(body.get(5..)?).ok()?,
        }),
        _ => None,
    }
}

/// Appends one record (head and body) to `out`.
pub(super) fn put_record(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&REC_MAGIC.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// Appends an add record; returns the offset of its vector within `out`.
pub(super) fn put_add(out: &mut Vec<u8>, slot: u32, item: &Item, v: &[f32]) -> usize {
    let (e, s) = (item.entity.as_bytes(), item.scope.as_bytes());
    let mut body = Vec::with_capacity(9 + e.len() + s.len() + v.len() * 4);
    body.push(TAG_ADD);
    body.extend_from_slice(&slot.to_le_bytes());
    body.extend_from_slice(&(e.len() as u16).to_le_bytes());
    body.extend_from_slice(e);
    body.extend_from_slice(&(s.len() as u16).to_le_bytes());
    body.extend_from_slice(s);
    let vector_at = out.len() + REC_HEAD as usize + body.len();
    for x in v {
        body.extend_from_slice(&x.to_le_bytes());
    }
    put_record(out, &body);
    vector_at
}

pub(super) fn put_del(out: &mut Vec<u8>, slot: u32) {
    let mut body = vec![TAG_DEL];
    body.extend_from_slice(&slot.to_le_bytes());
    put_record(out, &body);
}

pub(super) fn put_commit(out: &mut Vec<u8>, next: u32, checkpoint: &str) {
    let mut body = vec![TAG_COMMIT];
    body.extend_from_slice(&next.to_le_bytes());
    body.extend_from_slice(checkpoint.as_bytes());
    put_record(out, &body);
}

pub(super) fn log_header(dim: usize, generation: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(LOG_HEADER as usize);
    h.extend_from_slice(LOG_MAGIC);
    h.extend_from_slice(&LOG_VERSION.to_le_bytes());
    h.extend_from_slice(&(dim as u32).to_le_bytes());
    h.extend_from_slice(&generation.to_le_bytes());
    h
}

/// Reads records one after another from a position.
pub(super) struct Records<R> {
    pub(super) r: R,
    pub(super) pos: u64,
    pub(super) len: u64,
    pub(super) head: [u8; REC_HEAD as usize],
    pub(super) body: Vec<u8>,
}

/// Why reading stopped.
pub(super) enum Stop {
    /// The end of the file, at a record boundary.
    End,
    /// A record that is cut short or does not match its checksum, at `pos`.
    Bad,
}

impl<R: Read> Records<R> {
    /// The next record's body (in `self.body`) and its offset, or why not.
    pub(super) fn next(&mut self) -> std::io::Result<Result<u64, Stop>> {
        let at = self.pos;
        if at == self.len {
            return Ok(Err(Stop::End));
        }
        if at + REC_HEAD > self.len {
            return Ok(Err(Stop::Bad));
        }
        self.r.read_exact(&mut self.head)?;
        let magic = u32_at(&self.head, 0).unwrap_or(0);
        let n = u32_at(&self.head, 4).unwrap_or(u32::MAX);
        let crc = u32_at(&self.head, 8).unwrap_or(0);
        if magic != REC_MAGIC || n > MAX_BODY || at + REC_HEAD + n as u64 > self.len {
            return Ok(Err(Stop::Bad));
        }
        self.body.resize(n as usize, 0);
        self.r.read_exact(&mut self.body)?;
        if crc32fast::hash(&self.body) != crc {
            return Ok(Err(Stop::Bad));
        }
        self.pos = at + REC_HEAD + n as u64;
        Ok(Ok(at))
    }
}

/// Is there a whole commit record anywhere after `from`? (Then a bad record
/// at `from` was written before acknowledged data: damage, not a torn tail.)
pub(super) fn commit_after(f: &File, from: u64, len: u64) -> std::io::Result<bool> {
    const WINDOW: u64 = 4 << 20;
    let magic = REC_MAGIC.to_le_bytes();
    let mut at = from + 1;
    let mut buf = vec![0u8; WINDOW as usize];
    while at + REC_HEAD < len {
        let n = WINDOW.min(len - at) as usize;
        f.read_exact_at(&mut buf[..n], at)?;
        for i in 0..n.saturating_sub(3) {
            if buf[i..i + 4] != magic {
                continue;
            }
            let pos = at + i as u64;
            let mut head = [0u8; REC_HEAD as usize];
            if pos + REC_HEAD > len {
                break;
            }
            f.read_exact_at(&mut head, pos)?;
            let body_len = u32_at(&head, 4).unwrap_or(u32::MAX);
            if body_len > MAX_BODY || pos + REC_HEAD + body_len as u64 > len {
                continue;
            }
            let mut body = vec![0u8; body_len as usize];
            f.read_exact_at(&mut body, pos + REC_HEAD)?;
            if crc32fast::hash(&body) == u32_at(&head, 8).unwrap_or(0)
                && body.first() == Some(&TAG_COMMIT)
            {
                return Ok(true);
            }
        }
        // a record head may straddle the window's end
        at += (n as u64).saturating_sub(3).max(1);
    }
    Ok(false)
}

/// Length and CRC-32 of a file, read in 1 MiB pieces.
pub(super) fn file_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((len, h.finalize()));
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
}

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Maps the first `len` bytes of the log for reading.
///
/// SAFETY: a mapping is undefined behaviour if the mapped bytes change or
/// go away while it lives. The index only ever appends to its log past
/// `log_end` and maps no further than `log_end` (the end of the last
/// commit): a commit's `set_len(log_end)` only drops bytes of a failed
/// append beyond every mapping; a rewrite writes a new file and renames it
/// over the log, leaving a live mapping on the old one; `clear` drops the
/// mapping with the state. Another process writing the index's files
/// would break this, as it would break tantivy's and RocksDB's mappings.
#[allow(unsafe_code)]
pub(super) fn map_log(log: &File, len: u64) -> Option<memmap2::Mmap> {
    let len = usize::try_from(len).ok()?;
    // SAFETY: see above
    unsafe { memmap2::MmapOptions::new().len(len).map(log) }.ok()
}

impl FaceIndex {
    pub(super) fn write_new_log(
        dir: &Path,
        dim: usize,
        generation: u64,
        body: &[u8],
    ) -> std::io::Result<()> {
        let tmp = dir.join(format!("{LOG_FILE}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&log_header(dim, generation))?;
            f.write_all(body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(LOG_FILE))?;
        sync_dir(dir)
    }

    /// The bytes of the logged vector at `at`: from the mapping when it
    /// covers them, else read into `buf`.
    pub(super) fn logged<'a>(
        &self,
        s: &'a State,
        at: u64,
        buf: &'a mut [u8],
    ) -> FaceResult<&'a [u8]> {
        let n = buf.len();
        if let Some(b) = s.map.as_ref().and_then(|m| {
            let at = usize::try_from(at).ok()?;
            m.get(at..at.checked_add(n)?)
        }) {
            return Ok(b);
        }
        s.log.read_exact_at(buf, at).map_err(|e| self.io(e))?;
        Ok(buf)
    }

    /// A logged vector, read back by its offset.
    pub(super) fn read_vector(&self, s: &State, at: u64) -> FaceResult<Vec<f32>> {
        let mut b = vec![0u8; self.dim * 4];
        Ok(self
            .logged(s, at, &mut b)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}
