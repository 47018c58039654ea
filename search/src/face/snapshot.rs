//! Snapshots of the graph (`graph-<generation>-<offset>.usearch`, named
//! in `graph.meta`) and compaction of the log.

use super::*;

pub(super) const META_FILE: &str = "graph.meta";

pub(super) const META_MAGIC: &str = "anju-face-graph 1";

/// What `graph.meta` says of the snapshot.
#[derive(Debug, PartialEq)]
pub(super) struct Meta {
    pub(super) file: String,
    pub(super) generation: u64,
    pub(super) log_end: u64,
    pub(super) len: u64,
    pub(super) crc: u32,
    pub(super) quantisation: String,
    pub(super) connectivity: usize,
}

impl Meta {
    pub(super) fn render(&self) -> String {
        format!(
            "{META_MAGIC}\n{}\n{}\n{}\n{}\n{:08x}\n{}\n{}\n",
            self.file,
            self.generation,
            self.log_end,
            self.len,
            self.crc,
            self.quantisation,
            self.connectivity
        )
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        let mut l = s.lines();
        if l.next()? != META_MAGIC {
            return None;
        }
        Some(Self {
            file: l.next()?.to_owned(),
            generation: l.next()?.parse().ok()?,
            log_end: l.next()?.parse().ok()?,
            len: l.next()?.parse().ok()?,
            crc: u32::from_str_radix(l.next()?, 16).ok()?,
            quantisation: l.next()?.to_owned(),
            connectivity: l.next()?.parse().ok()?,
        })
    }
}

impl FaceIndex {
    /// Loads a snapshot and removes what the log removed after it.
    pub(super) fn load_snapshot(
        &self,
        m: &Meta,
        g: &mut Index,
        s: &State,
        dels_after: &HashMap<u64, Vec<u32>>,
    ) -> Result<(), String> {
        let path = self.dir.join(&m.file);
        match file_crc(&path) {
            Ok((len, crc)) if len == m.len && crc == m.crc => {}
            Ok(_) => return Err(format!("{} does not match its checksum", m.file)),
            Err(e) => return Err(format!("{}: {e}", m.file)),
        }
        let p = path.to_str().ok_or("snapshot path is not UTF-8")?;
        g.load(p).map_err(|e| e.what().to_owned())?;
        g.reserve_capacity_and_threads(g.size().max(1024), CONTEXTS)
            .map_err(|e| e.what().to_owned())?;
        g.change_expansion_search(self.params.ef_search);
        g.change_expansion_add(self.params.ef_construction);
        for (end, slots) in dels_after {
            if *end > m.log_end {
                for slot in slots {
                    if !s.live.contains(*slot) {
                        g.remove(u64::from(*slot))
                            .map_err(|e| e.what().to_owned())?;
                    }
                }
            }
        }
        // what a snapshot holds must be live (a slot removed before the
        // snapshot but whose removal is in the torn tail is live again)
        Ok(())
    }

    /// Rewrites the log with the live vectors only (a new generation).
    pub(super) fn compact(&self, checkpoint: &str) -> FaceResult<()> {
        let s = self.read();
        let mut body = Vec::new();
        let mut ids: Vec<u32> = s.live.iter().collect();
        ids.sort_unstable();
        let mut moved = Vec::with_capacity(ids.len());
        for id in ids {
            let (Some(item), Some(v)) = (s.items.get(&id), self.vector(&s, id)?) else {
                continue;
            };
            let at = put_add(&mut body, id, item, &v);
            moved.push((id, LOG_HEADER + at as u64));
        }
        put_commit(&mut body, s.next, checkpoint);
        let generation = s.generation + 1;
        drop(s);
        Self::write_new_log(&self.dir, self.dim, generation, &body).map_err(|e| self.io(e))?;
        let log = File::options()
            .read(true)
            .write(true)
            .open(self.dir.join(LOG_FILE))
            .map_err(|e| self.io(e))?;
        let mut s = self.write();
        s.log = Arc::new(log);
        for (id, at) in moved {
            if let Some(item) = s.items.get_mut(&id) {
                item.at = Some(at);
            }
        }
        s.generation = generation;
        s.log_end = LOG_HEADER + body.len() as u64;
        // the old mapping is of the replaced file: the moved offsets are in this one
        s.map = map_log(&s.log, s.log_end);

        s.log_items = s.live.len();
        s.log_dead = 0;
        s.snapshot_end = 0;
        s.graph_dirty = true;
        Ok(())
    }

    /// Writes a snapshot of the graph covering the log so far (only when
    /// nothing is staged: a snapshot must be of committed state).
    pub(super) fn snapshot(&self) -> FaceResult<()> {
        let s = self.read();
        if !s.staged.is_empty() || !s.deleted.is_empty() || !s.graph_dirty {
            return Ok(());
        }
        let io = |e| FaceError::Io(self.dir.display().to_string(), e);
        let file = format!("graph-{}-{}.usearch", s.generation, s.log_end);
        let path = self.dir.join(&file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| FaceError::Hnsw("snapshot path is not UTF-8".into()))?;
        self.graph_read().save(tmp_str)?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        let (len, crc) = file_crc(&path).map_err(io)?;
        let meta = Meta {
            file: file.clone(),
            generation: s.generation,
            log_end: s.log_end,
            len,
            crc,
            quantisation: self.params.quantisation.name().to_owned(),
            connectivity: self.params.connectivity,
        };
        let mtmp = self.dir.join(format!("{META_FILE}.tmp"));
        {
            let mut f = File::create(&mtmp).map_err(io)?;
            f.write_all(meta.render().as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&mtmp, self.dir.join(META_FILE)).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        // older snapshots are no longer named by the meta
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("graph-") && name != file {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        drop(s);
        let mut s = self.write();
        s.snapshot_end = meta.log_end;
        s.graph_dirty = s.log_end != meta.log_end;
        Ok(())
    }
}
