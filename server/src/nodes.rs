//! Nodes of the graph as the API and the command line meet them: whether
//! one exists (a register record, or for a plate or a stranger archive
//! something seen of it) and how it is named to a person (a person's name,
//! a community's or device's name, a house's address, a plate) — for
//! labels the graph does not carry and for alert titles.

use graph::{RelationStore, RocksStore};
use model::{BaseKind, BaseRecord, NodeRef, Timestamp};

/// Whether a node exists: its register record; a plate, a stranger
/// archive or a visitor once it was seen (or is in the graph).
pub fn exists(
    store: &RocksStore,
    relations: &dyn RelationStore,
    n: &NodeRef,
) -> graph::Result<bool> {
    Ok(match n {
        // a registered person; one known only from what was seen of them
        // (a visitor by the phone given at a gate) once in the graph
        NodeRef::Person(p) => {
            store.base(BaseKind::Person, p.as_str())?.is_some() || relations.node(n)?.is_some()
        }
        NodeRef::House(h) => store.base(BaseKind::House, h.as_str())?.is_some(),
        NodeRef::Community(c) => store.base(BaseKind::Community, c.as_str())?.is_some(),
        NodeRef::Device(d) => store.base(BaseKind::Device, d.as_str())?.is_some(),
        NodeRef::Vehicle(v) => {
            store.base(BaseKind::Vehicle, v.as_str())?.is_some()
                || relations.node(n)?.is_some()
                || seen(store, n)?
        }
        NodeRef::Stranger(_) => relations.node(n)?.is_some() || seen(store, n)?,
    })
}

/// Whether anything was seen of a node.
fn seen(store: &RocksStore, n: &NodeRef) -> graph::Result<bool> {
    let page =
        graph::timeline::timeline(store, n, Timestamp(i64::MIN), Timestamp(i64::MAX), 1, true)?;
    Ok(!page.items.is_empty())
}

/// A node's name from the registers, else a description of it (a stranger
/// archive is "陌生人 `<id>`"); never empty.
pub fn registered_label(store: &RocksStore, n: &NodeRef) -> graph::Result<String> {
    Ok(match n {
        NodeRef::Person(p) => match store.base(BaseKind::Person, p.as_str())? {
            Some(BaseRecord::Person(x)) if x.name.as_deref().is_some_and(|s| !s.is_empty()) => {
                x.name.unwrap_or_default()
            }
            _ => p.as_str().to_owned(),
        },
        NodeRef::House(h) => match store.base(BaseKind::House, h.as_str())? {
            Some(BaseRecord::House(x)) => x
                .address
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| format!("{}-{}-{}", x.building, x.unit, x.room)),
            _ => h.as_str().to_owned(),
        },
        NodeRef::Community(c) => match store.base(BaseKind::Community, c.as_str())? {
            Some(BaseRecord::Community(x)) if !x.name.is_empty() => x.name,
            _ => c.as_str().to_owned(),
        },
        NodeRef::Device(d) => match store.base(BaseKind::Device, d.as_str())? {
            Some(BaseRecord::Device(x)) => x
                .name
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("{} {}", x.kind.as_str(), x.id.as_str())),
            _ => d.as_str().to_owned(),
        },
        NodeRef::Vehicle(v) => v.as_str().to_owned(),
        NodeRef::Stranger(s) => format!("陌生人 {}", s.as_str()),
    })
}
