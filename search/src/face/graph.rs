//! The HNSW graph over quantised vectors: building it (in parallel,
//! from the log or a batch) and adding to it.

use super::*;

/// The threads a parallel build uses.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A vector scaled to its largest component and rounded to int8.
pub(super) fn quantise_i8(v: &[f32]) -> Vec<i8> {
    let m = v.iter().fold(0f32, |a, x| a.max(x.abs()));
    if m == 0.0 {
        return vec![0; v.len()];
    }
    v.iter().map(|x| (x * 127.0 / m).round() as i8).collect()
}

impl FaceIndex {
    pub(super) fn new_graph(dim: usize, p: &FaceParams) -> FaceResult<Index> {
        let g = Index::new(&IndexOptions {
            dimensions: dim,
            metric: p.quantisation.metric(),
            quantization: p.quantisation.scalar(),
            connectivity: p.connectivity,
            expansion_add: p.ef_construction,
            expansion_search: p.ef_search,
            multi: false,
        })?;
        g.reserve_capacity_and_threads(1024, CONTEXTS)?;
        Ok(g)
    }

    /// Brings the graph to the log's state: from the snapshot when it is
    /// whole and matches, plus what the log holds beyond it; else from the
    /// whole log.
    pub(super) fn fill_graph(
        &self,
        meta: Option<Meta>,
        dels_after: &HashMap<u64, Vec<u32>>,
    ) -> FaceResult<()> {
        let mut s = self.write();
        let mut g = self.graph_write();
        let mut from = 0;
        if let Some(m) = meta
            && m.generation == s.generation
            && m.quantisation == self.params.quantisation.name()
            && m.connectivity == self.params.connectivity
        {
            match self.load_snapshot(&m, &mut g, &s, dels_after) {
                Ok(()) => from = m.log_end,
                Err(why) => {
                    tracing::warn!(%why, "face index: snapshot not used; rebuilding the graph from the log");
                    *g = Self::new_graph(self.dim, &self.params)?;
                }
            }
        }
        let todo: Vec<(u32, u64)> = s
            .items
            .iter()
            .filter_map(|(id, it)| it.at.filter(|at| *at >= from).map(|at| (*id, at)))
            .collect();
        let need = g.size() + todo.len();
        if need > g.capacity() {
            g.reserve_capacity_and_threads(need.next_power_of_two(), CONTEXTS)?;
        }
        // a small remainder is quicker on one thread than spread over many
        let threads = if todo.len() < 10_000 { 1 } else { cores() };
        let st: &State = &s;
        self.add_parallel(&g, todo.len(), threads, |i| {
            let (id, at) = todo[i];
            Ok((id, self.read_vector(st, at)?))
        })?;
        if g.size() != s.live.len() as usize {
            return Err(FaceError::Hnsw(format!(
                "the graph holds {} vectors, the log {}",
                g.size(),
                s.live.len()
            )));
        }
        s.snapshot_end = from;
        s.graph_dirty = !todo.is_empty() || from == 0 && !s.live.is_empty();
        Ok(())
    }

    pub(super) fn graph_read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.graph.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn graph_write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.graph.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `n` vectors to the graph on up to `threads` threads (the
    /// graph takes concurrent adds): `item(i)` gives the i-th id and vector.
    /// The one parallel build, for a graph rebuilt from the log and for a
    /// batch of adds.
    pub(super) fn add_parallel<V: AsRef<[f32]>>(
        &self,
        g: &Index,
        n: usize,
        threads: usize,
        item: impl Fn(usize) -> FaceResult<(u32, V)> + Sync,
    ) -> FaceResult<()> {
        let chunk = n.div_ceil(threads.max(1)).max(1);
        let item = &item;
        std::thread::scope(|sc| -> FaceResult<()> {
            let parts: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    sc.spawn(move || -> FaceResult<()> {
                        for i in start..(start + chunk).min(n) {
                            let (id, v) = item(i)?;
                            self.graph_add_to(g, id, v.as_ref())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for p in parts {
                p.join()
                    .map_err(|_| FaceError::Hnsw("a graph builder panicked".into()))??;
            }
            Ok(())
        })
    }

    /// Adds to a graph whose capacity is reserved.
    pub(super) fn graph_add_to(&self, g: &Index, id: u32, v: &[f32]) -> FaceResult<()> {
        let _ctx = self.contexts.take();
        match self.params.quantisation {
            Quantisation::I8 => g.add(u64::from(id), &quantise_i8(v))?,
            Quantisation::F16 | Quantisation::F32 => g.add(u64::from(id), v)?,
        }
        Ok(())
    }

    pub(super) fn graph_add(&self, id: u32, v: &[f32]) -> FaceResult<()> {
        {
            let g = self.graph_read();
            if g.size() < g.capacity() {
                return self.graph_add_to(&g, id, v);
            }
        }
        let g = self.graph_write();
        if g.size() >= g.capacity() {
            g.reserve_capacity_and_threads((g.capacity() * 2).max(1024), CONTEXTS)?;
        }
        self.graph_add_to(&g, id, v)
    }
}
