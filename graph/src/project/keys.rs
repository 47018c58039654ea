//! Keys and values of the derived state: the `dstate` sub-spaces,
//! timeline and evidence keys.

use super::*;

/// `dstate` sub-spaces.
pub(super) mod st {
    pub const CHECKPOINT: u8 = 0;
    /// (ref kind, ref key, event key) → (): events waiting for a device, card or tag
    pub const UNRESOLVED: u8 = 1;
    /// e-bike tag → plate
    pub const TAG: u8 = 2;
    /// identity number → person id
    pub const ID_NUMBER: u8 = 3;
    /// (house, residence key) → ()
    pub const RESIDENCE: u8 = 4;
    /// (community, building, unit, person, house) → (): current occupants per unit
    pub const UNIT: u8 = 5;
    /// house → what its registrations produced (edge keys, unit keys)
    pub const HOUSE_OUT: u8 = 6;
    /// (device, night, subject, event id) → time: night entries through a unit door
    pub const NIGHT: u8 = 7;
    /// plate → owner (the owns edge written for it)
    pub const OWNER: u8 = 8;
    /// phone → person id
    pub const PHONE: u8 = 9;
    /// (community, building, unit, device) → (): the unit doors of a unit
    pub const UNIT_DOOR: u8 = 10;
}

pub(super) const UNRES_DEVICE: u8 = 0;
pub(super) const UNRES_CARD: u8 = 1;
pub(super) const UNRES_TAG: u8 = 2;

/// Merges live in `attr` under a prefix no event key can start with
/// (UTF-8 never contains 0xFF).
pub(super) const MERGE_PREFIX: u8 = 0xFF;

pub(super) fn checkpoint_key() -> Vec<u8> {
    vec![st::CHECKPOINT]
}

pub(super) fn tl_prefix(subject: &NodeRef) -> KeyBuf {
    KeyBuf::new().node(subject)
}

pub(super) fn tl_key(subject: &NodeRef, t: Timestamp, ev: &EventId, slot: u8) -> Vec<u8> {
    tl_prefix(subject)
        .i64(t.0)
        .str(ev.as_str())
        .tag(slot)
        .into_bytes()
}

pub(super) fn acc_prefix(kind: RelKind, from: &NodeRef, to: &NodeRef) -> Vec<u8> {
    KeyBuf::new().rel(kind).node(from).node(to).into_bytes()
}

/// Evidence for an event-derived relation: the two events, their time, and
/// whether it alone establishes the relation (a face inside the vehicle).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct AccValue {
    pub(super) time: i64,
    pub(super) direct: bool,
}

/// What one house's registrations produced last time, to remove what they
/// no longer support.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct HouseOut {
    pub(super) edges: Vec<EdgeKey>,
    pub(super) units: Vec<Vec<u8>>,
}

/// The evidence row for two events of a pair, and the pair's edge key.
/// Evidence ids follow the edge's orientation, so either processing order
/// gives the same row.
pub(super) fn acc_key(
    kind: RelKind,
    a: &NodeRef,
    b: &NodeRef,
    ea: Ev<'_>,
    eb: Ev<'_>,
    day: i64,
) -> (Vec<u8>, EdgeKey) {
    let key = EdgeKey::new(kind, a.clone(), b.clone(), "");
    let (first, second) = if &key.from == a { (ea, eb) } else { (eb, ea) };
    let k = KeyBuf::new()
        .raw(&acc_prefix(kind, &key.from, &key.to))
        .i64(day)
        .str(first.0.as_str())
        .str(second.0.as_str())
        .into_bytes();
    (k, key)
}
