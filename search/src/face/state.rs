//! The index's in-memory state: items per entity and scope, the live
//! set, and the per-thread search contexts.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) entity: Arc<str>,
    pub(super) scope: Arc<str>,
    /// Offset of the vector in the log; `None` while staged.
    pub(super) at: Option<u64>,
}

impl Item {
    pub(super) fn kind(&self) -> &str {
        self.entity.split(':').next().unwrap_or("")
    }
}

#[derive(Debug)]
pub(super) struct State {
    /// The log (every vector read goes through the state's lock, so a
    /// rewrite can swap the file).
    pub(super) log: Arc<File>,
    /// The log's committed bytes mapped for reading vectors (re-made at
    /// each commit; a vector beyond it, or without a map, is read by
    /// offset).
    pub(super) map: Option<memmap2::Mmap>,
    pub(super) items: HashMap<u32, Item>,
    pub(super) by_entity: HashMap<Arc<str>, Vec<u32>>,
    pub(super) by_scope: HashMap<Arc<str>, RoaringBitmap>,
    pub(super) by_kind: HashMap<String, RoaringBitmap>,
    /// Every item present (staged or logged).
    pub(super) live: RoaringBitmap,
    /// Added since the last commit: normalised vectors.
    pub(super) staged: HashMap<u32, Vec<f32>>,
    /// Logged items removed since the last commit.
    pub(super) deleted: RoaringBitmap,
    pub(super) next: u32,
    pub(super) checkpoint: Option<String>,
    /// Where the next record goes (the end of the last commit).
    pub(super) log_end: u64,
    pub(super) generation: u64,
    /// Vectors in the log, and how many of them are removed since.
    pub(super) log_items: u64,
    pub(super) log_dead: u64,
    /// Log offset the last snapshot covers (0: none).
    pub(super) snapshot_end: u64,
    /// The graph changed since the last snapshot.
    pub(super) graph_dirty: bool,
}

impl State {
    pub(super) fn new(log: Arc<File>, generation: u64) -> Self {
        Self {
            log,
            map: None,
            items: HashMap::new(),
            by_entity: HashMap::new(),
            by_scope: HashMap::new(),
            by_kind: HashMap::new(),
            live: RoaringBitmap::new(),
            staged: HashMap::new(),
            deleted: RoaringBitmap::new(),
            next: 0,
            checkpoint: None,
            log_end: LOG_HEADER,
            generation,
            log_items: 0,
            log_dead: 0,
            snapshot_end: 0,
            graph_dirty: false,
        }
    }

    pub(super) fn index(&mut self, id: u32, item: Item) {
        self.by_entity
            .entry(item.entity.clone())
            .or_default()
            .push(id);
        self.by_scope
            .entry(item.scope.clone())
            .or_default()
            .insert(id);
        self.by_kind
            .entry(item.kind().to_owned())
            .or_default()
            .insert(id);
        self.live.insert(id);
        self.items.insert(id, item);
    }

    /// Forgets an item; returns it.
    pub(super) fn unindex(&mut self, id: u32) -> Option<Item> {
        let item = self.items.remove(&id)?;
        self.live.remove(id);
        if let Some(b) = self.by_scope.get_mut(&item.scope) {
            b.remove(id);
        }
        if let Some(b) = self.by_kind.get_mut(item.kind()) {
            b.remove(id);
        }
        if let Some(ids) = self.by_entity.get_mut(&item.entity) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_entity.remove(&item.entity);
            }
        }
        Some(item)
    }

    /// The items a filter allows (`None`: all).
    pub(super) fn allowed(&self, filter: &FaceFilter<'_>) -> Option<RoaringBitmap> {
        let mut set: Option<RoaringBitmap> = None;
        if let Some(scopes) = filter.scopes {
            let mut u = RoaringBitmap::new();
            for s in scopes {
                if let Some(b) = self.by_scope.get(s.as_str()) {
                    u |= b;
                }
            }
            set = Some(u);
        }
        if let Some(kind) = filter.kind {
            let k = self.by_kind.get(kind).cloned().unwrap_or_default();
            set = Some(match set {
                Some(s) => s & k,
                None => k,
            });
        }
        if let Some(e) = filter.except
            && let Some(ids) = self.by_entity.get(e)
        {
            let mut s = set.unwrap_or_else(|| self.live.clone());
            for id in ids {
                s.remove(*id);
            }
            set = Some(s);
        }
        set
    }
}

/// A counting semaphore over the graph's caller contexts.
#[derive(Debug)]
pub(super) struct Contexts {
    pub(super) free: Mutex<usize>,
    pub(super) freed: Condvar,
}

pub(super) struct ContextGuard<'a>(&'a Contexts);

impl Contexts {
    pub(super) fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    pub(super) fn take(&self) -> ContextGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        ContextGuard(self)
    }
}

impl Drop for ContextGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}
