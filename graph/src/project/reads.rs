//! Reads of the projection for queries: checkpoint, evidence of an
//! edge, communities of a subject, attribution, digest.

use super::*;

/// Where the projection has got to in the store's logs.
pub fn checkpoint(store: &RocksStore) -> Result<Checkpoint> {
    match store
        .db()
        .get_cf(store.handle(CF_DSTATE), checkpoint_key())?
    {
        Some(v) => decode(b"checkpoint", &v),
        None => Ok(Checkpoint::default()),
    }
}

/// One piece of evidence for an event-derived relation: the two events (the
/// same one for a visit or a face seen in a vehicle) and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub day: chrono::NaiveDate,
    pub time: Timestamp,
    pub events: [String; 2],
}

/// All the evidence behind an event-derived relation, oldest first, at most
/// `limit` (the edge itself keeps only the first few ids). Registration,
/// kin and ownership edges carry all of theirs on the edge.
pub fn evidence(store: &RocksStore, key: &EdgeKey, limit: usize) -> Result<Vec<Evidence>> {
    let prefix = acc_prefix(key.kind, &key.from, &key.to);
    let mut out = Vec::new();
    for (k, v) in Stored(store).prefix(CF_ACC, &prefix)? {
        let mut r = KeyReader::new(&k[prefix.len()..]);
        let (Ok(day), Ok(e1), Ok(e2)) = (r.i64(), r.str(), r.str()) else {
            continue;
        };
        let (val, _): (AccValue, i64) = decode(&k, &v)?;
        out.push(Evidence {
            day: chrono::NaiveDate::from_num_days_from_ce_opt(day as i32).unwrap_or_default(),
            time: Timestamp(val.time),
            events: [e1, e2],
        });
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then(a.events.cmp(&b.events)));
    out.truncate(limit);
    Ok(out)
}

/// The communities of a person's registrations current at `now`, in the
/// order of the registrations (repeats removed).
pub fn communities_of(
    store: &RocksStore,
    person: &PersonId,
    now: Timestamp,
) -> Result<Vec<CommunityId>> {
    let mut houses = Vec::new();
    store.for_each_base_with(BaseKind::Residence, &format!("{person}\u{1f}"), |rec| {
        if let BaseRecord::Residence(r) = rec
            && r.until.is_none_or(|u| u > now)
        {
            houses.push(r.house);
        }
        Ok(())
    })?;
    let mut out: Vec<CommunityId> = Vec::new();
    for h in houses {
        if let Some(BaseRecord::House(h)) = store.base(BaseKind::House, h.as_str())?
            && !out.contains(&h.community)
        {
            out.push(h.community);
        }
    }
    Ok(out)
}

/// Whom the face in `slot` of `event` was attributed to, merges followed
/// (None: not attributed yet, or to nobody).
pub fn attributed(
    store: &RocksStore,
    event: &str,
    device: &str,
    slot: u8,
) -> Result<Option<NodeRef>> {
    let tx = Tx::new(store);
    let k = KeyBuf::new()
        .raw(&event_key(event, device))
        .tag(slot)
        .into_bytes();
    let Some(b) = tx.get(CF_ATTR, &k)? else {
        return Ok(None);
    };
    let mut who: Option<NodeRef> = decode(&k, &b)?;
    for _ in 0..16 {
        let Some(n @ NodeRef::Stranger(_)) = &who else {
            break;
        };
        let mk = KeyBuf::new().tag(MERGE_PREFIX).node(n).into_bytes();
        match tx.get(CF_ATTR, &mk)? {
            Some(b) => who = Some(decode(&mk, &b)?),
            None => break,
        }
    }
    Ok(who)
}

/// A digest of what the projections produced and users can see: every
/// timeline entry and the graph's nodes and edges. Equal digests mean an
/// incremental projection and a rebuild agree. (Working state — evidence
/// rows, indexes — is left out.)
pub fn derived_digest(store: &RocksStore, graph: &dyn RelationStore) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CF_TL.as_bytes());
    for item in store
        .db()
        .iterator_cf(store.handle(CF_TL), IteratorMode::Start)
    {
        let (k, v) = item?;
        h.update((k.len() as u64).to_le_bytes());
        h.update(&k);
        h.update((v.len() as u64).to_le_bytes());
        h.update(&v);
    }
    let (nodes, edges) = graph.export()?;
    h.update(encode(&nodes)?);
    h.update(encode(&edges)?);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
