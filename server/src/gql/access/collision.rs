//! Region collision: the subjects seen under every condition (a place
//! and a time window), with their evidence.

use super::*;

pub(super) struct Place {
    pub(super) label: String,
    pub(super) community: Option<String>,
    pub(super) devices: Vec<String>,
    pub(super) area: Option<graph::timeline::Area>,
    pub(super) from: Timestamp,
    pub(super) to: Timestamp,
}

/// Most sightings read per condition.
const COLLISION_READ_LIMIT: usize = 200_000;

pub(super) fn collide(
    e: &Engine,
    p: &Principal,
    places: Vec<Place>,
    min: usize,
    kinds: &[String],
    first: usize,
) -> ApiResult<CollisionResult> {
    let store = e.store();
    // every device with its community and place, once
    let mut all: Vec<model::Device> = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(d) = r {
            all.push(d);
        }
        Ok(())
    })?;
    #[derive(Default)]
    struct Hit {
        conds: BTreeSet<usize>,
        sightings: usize,
        evidence: Vec<CollisionEvidence>,
        per_cond: HashMap<usize, usize>,
    }
    let mut hits: HashMap<NodeRef, Hit> = HashMap::new();
    let mut per_condition = Vec::new();
    let mut truncated = false;
    for (i, place) in places.iter().enumerate() {
        let mut devices = Vec::new();
        for d in &all {
            let inside = if let Some(c) = &place.community {
                d.community.as_str() == c
            } else if let Some(a) = &place.area {
                match d.location {
                    Some(l) => a.holds(l)?,
                    None => false,
                }
            } else {
                place.devices.iter().any(|x| x == d.id.as_str())
            };
            // only devices in scope (own regions or an any-subject grant)
            if inside {
                let region = e.community_region(store, &d.community)?;
                if p.sees_region_about(region.as_deref(), &[]) {
                    devices.push(d.id.clone());
                }
            }
        }
        per_condition.push(devices.len());
        let mut read = 0;
        for d in devices {
            let page = graph::timeline::timeline(
                store,
                &NodeRef::Device(d.clone()),
                place.from,
                place.to,
                COLLISION_READ_LIMIT - read,
                false,
            )?;
            truncated |= page.more;
            read += page.items.len();
            for s in page.items {
                for subj in s.subjects {
                    let k = subj.kind().as_str();
                    if !matches!(k, "person" | "stranger" | "vehicle")
                        || (!kinds.is_empty() && !kinds.iter().any(|x| x == k))
                    {
                        continue;
                    }
                    let h = hits.entry(subj).or_default();
                    h.conds.insert(i);
                    h.sightings += 1;
                    let n = h.per_cond.entry(i).or_default();
                    if *n < 3 {
                        *n += 1;
                        h.evidence.push(CollisionEvidence {
                            condition: i,
                            event: s.event.as_str().to_owned(),
                            time: fmt_time(&e.clock, s.time),
                            device: s.device.as_str().to_owned(),
                        });
                    }
                }
            }
            if read >= COLLISION_READ_LIMIT {
                truncated = true;
                break;
            }
        }
    }
    let mut ranked: Vec<(NodeRef, Hit)> = hits
        .into_iter()
        .filter(|(_, h)| h.conds.len() >= min)
        .collect();
    ranked.sort_by(|a, b| {
        b.1.conds
            .len()
            .cmp(&a.1.conds.len())
            .then(b.1.sightings.cmp(&a.1.sightings))
            .then(a.0.cmp(&b.0))
    });
    let total = ranked.len();
    ranked.truncate(first);
    let nodes: Vec<NodeRef> = ranked.iter().map(|(n, _)| n.clone()).collect();
    let labels = e.labels(&nodes)?;
    let matches = ranked
        .into_iter()
        .zip(labels)
        .map(|((n, mut h), l)| {
            h.evidence
                .sort_by(|a, b| a.condition.cmp(&b.condition).then(a.time.cmp(&b.time)));
            CollisionMatch {
                entity: Entity::new(&n, l),
                matched: h.conds.len(),
                conditions: h.conds.into_iter().collect(),
                sightings: h.sightings,
                evidence: h.evidence,
            }
        })
        .collect();
    Ok(CollisionResult {
        conditions: places.into_iter().map(|p| p.label).collect(),
        devices_per_condition: per_condition,
        min_matches: min,
        total_count: total,
        matches,
        truncated,
    })
}
