//! The write transaction of one chunk, and reads of derived state
//! through it or from the store as it is.

use super::*;

/// Writes of one chunk, visible to later reads of the same chunk.
pub(super) struct Tx<'s> {
    pub(super) store: &'s RocksStore,
    pub(super) writes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    pub(super) ops: Vec<GraphOp>,
    /// Pairs whose evidence changed: their edge is recomputed at commit.
    pub(super) dirty: BTreeSet<(RelKind, NodeRef, NodeRef)>,
    /// Units whose registered occupants changed: their night entries are
    /// judged again at commit (inferred cohabitants).
    pub(super) dirty_units: BTreeSet<(String, String, String)>,
}

impl<'s> Tx<'s> {
    pub(super) fn new(store: &'s RocksStore) -> Self {
        Self {
            store,
            writes: BTreeMap::new(),
            ops: Vec::new(),
            dirty: BTreeSet::new(),
            dirty_units: BTreeSet::new(),
        }
    }

    pub(super) fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.writes.get(&(cf, key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self
            .store
            .db()
            .get_pinned_cf(self.store.handle(cf), key)?
            .map(|v| v.to_vec()))
    }

    pub(super) fn put(&mut self, cf: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((cf, key), Some(value));
    }

    pub(super) fn delete(&mut self, cf: &'static str, key: Vec<u8>) {
        self.writes.insert((cf, key), None);
    }

    /// Entries with `lo <= key < hi`, stored and written, in key order.
    pub(super) fn range(
        &self,
        cf: &'static str,
        lo: &[u8],
        hi: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let db = self.store.db();
        for item in db.iterator_cf(
            self.store.handle(cf),
            IteratorMode::From(lo, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if k.as_ref() >= hi {
                break;
            }
            out.insert(k.to_vec(), v.to_vec());
        }
        for ((_, k), v) in self.writes.range((cf, lo.to_vec())..(cf, hi.to_vec())) {
            match v {
                Some(v) => out.insert(k.clone(), v.clone()),
                None => out.remove(k),
            };
        }
        Ok(out.into_iter().collect())
    }

    pub(super) fn prefix(
        &self,
        cf: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.range(cf, prefix, &prefix_end(prefix))
    }
}

/// The smallest key greater than every key starting with `prefix`.
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; 16]
}

/// Reads of derived state: through a chunk's pending writes (`Tx`) while
/// projecting, or the store as it is when answering a query (`Stored`).
pub(crate) trait StateRead {
    fn store(&self) -> &RocksStore;
    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The first string part after `prefix` of each key under it.
    fn keys_under(&self, prefix: &[u8]) -> Result<Vec<String>> {
        self.prefix(CF_DSTATE, prefix)?
            .into_iter()
            .map(|(k, _)| {
                KeyReader::new(&k[prefix.len()..])
                    .str()
                    .map_err(|e| Error::Corrupt {
                        key: format!("{k:02x?}"),
                        why: e.to_string(),
                    })
            })
            .collect()
    }
}

impl StateRead for Tx<'_> {
    fn store(&self) -> &RocksStore {
        self.store
    }

    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Tx::prefix(self, cf, prefix)
    }
}

/// The store's derived state as it is.
pub(crate) struct Stored<'a>(pub &'a RocksStore);

impl StateRead for Stored<'_> {
    fn store(&self) -> &RocksStore {
        self.0
    }

    fn prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.0.db().iterator_cf(
            self.0.handle(cf),
            IteratorMode::From(prefix, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}
