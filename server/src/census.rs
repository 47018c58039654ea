//! The census behind the dashboards and the rules' places: each
//! community's register counts (recounted when base data changes), each
//! device's community and region, and events per device and day.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use graph::RocksStore;
use model::{BaseKind, BaseRecord, CommunityId, DeviceId, NodeRef};

use crate::engine::{Engine, kind_index, now};
use crate::lock;

/// A community's place and its register counts (persons by household type
/// and category, houses by use, vehicles, devices by kind).
#[derive(Debug, Clone, Default)]
pub struct CommunityCensus {
    pub name: String,
    pub region: String,
    pub persons: u64,
    pub by_household: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub houses: u64,
    pub houses_by_use: BTreeMap<String, u64>,
    pub vehicles: u64,
    pub devices: u64,
    pub devices_by_kind: BTreeMap<String, u64>,
}

impl Engine {
    /// A device's community and that community's region code.
    pub fn device_place(
        &self,
        store: &RocksStore,
        d: &DeviceId,
    ) -> graph::Result<Option<(CommunityId, String)>> {
        if let Some(p) = self
            .devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(d)
        {
            return Ok(p.clone());
        }
        let place = match store.base(BaseKind::Device, d.as_str())? {
            Some(BaseRecord::Device(dev)) => {
                let region = self.community_region(store, &dev.community)?;
                Some((dev.community, region.unwrap_or_default()))
            }
            _ => None,
        };
        self.devices
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(d.clone(), place.clone());
        Ok(place)
    }

    /// The registered regions (names, levels, parents), read afresh: a few
    /// hundred records even for a province.
    pub fn region_tree(&self) -> graph::Result<model::RegionTree> {
        let mut tree = model::RegionTree::default();
        self.store().for_each_base(BaseKind::Region, |r| {
            if let BaseRecord::Region(r) = r {
                tree.insert(r);
            }
            Ok(())
        })?;
        Ok(tree)
    }

    pub fn community_region(
        &self,
        store: &RocksStore,
        c: &CommunityId,
    ) -> graph::Result<Option<String>> {
        if let Some(cc) = self.census.read().unwrap_or_else(|p| p.into_inner()).get(c) {
            return Ok(Some(cc.region.clone()));
        }
        Ok(match store.base(BaseKind::Community, c.as_str())? {
            Some(BaseRecord::Community(c)) => Some(c.region.as_str().to_owned()),
            _ => None,
        })
    }

    pub fn census(&self) -> BTreeMap<CommunityId, CommunityCensus> {
        self.census
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Recounts the registers per community (after base data changed).
    pub(crate) fn refresh_census(&self) -> anyhow::Result<()> {
        let store = self.store();
        let t = now();
        let mut out: BTreeMap<CommunityId, CommunityCensus> = BTreeMap::new();
        store.for_each_base(BaseKind::Community, |r| {
            if let BaseRecord::Community(c) = r {
                out.insert(
                    c.id.clone(),
                    CommunityCensus {
                        name: c.name,
                        region: c.region.as_str().to_owned(),
                        ..CommunityCensus::default()
                    },
                );
            }
            Ok(())
        })?;
        let mut house_community = HashMap::new();
        store.for_each_base(BaseKind::House, |r| {
            if let BaseRecord::House(h) = r {
                if let Some(c) = out.get_mut(&h.community) {
                    c.houses += 1;
                    let u = h.usage.map_or("unknown", |u| u.as_str());
                    *c.houses_by_use.entry(u.to_owned()).or_default() += 1;
                }
                house_community.insert(h.id, h.community);
            }
            Ok(())
        })?;
        let mut residents: BTreeSet<(CommunityId, model::PersonId)> = BTreeSet::new();
        store.for_each_base(BaseKind::Residence, |r| {
            if let BaseRecord::Residence(r) = r
                && r.until.is_none_or(|u| u > t)
                && let Some(c) = house_community.get(&r.house)
            {
                residents.insert((c.clone(), r.person));
            }
            Ok(())
        })?;
        let ids: Vec<&str> = residents.iter().map(|(_, p)| p.as_str()).collect();
        let persons = store.bases(BaseKind::Person, &ids)?;
        for ((c, _), p) in residents.iter().zip(persons) {
            let Some(cc) = out.get_mut(c) else { continue };
            cc.persons += 1;
            if let Some(BaseRecord::Person(p)) = p {
                let h = p.household.map_or("unknown", |h| h.as_str());
                *cc.by_household.entry(h.to_owned()).or_default() += 1;
                for cat in &p.categories {
                    *cc.by_category.entry(cat.clone()).or_default() += 1;
                }
            }
        }
        let mut ebikes = HashMap::new();
        store.for_each_base(BaseKind::Vehicle, |r| {
            if let BaseRecord::Vehicle(v) = r {
                if let Some(tag) = &v.rfid {
                    ebikes.insert(tag.as_str().to_owned(), (v.plate.clone(), v.owner.clone()));
                }
                if let Some(c) = v.community.as_ref().and_then(|c| out.get_mut(c)) {
                    c.vehicles += 1;
                }
            }
            Ok(())
        })?;
        *self.ebikes.write().unwrap_or_else(|p| p.into_inner()) = ebikes;
        store.for_each_base(BaseKind::Device, |r| {
            if let BaseRecord::Device(d) = r
                && let Some(c) = out.get_mut(&d.community)
            {
                c.devices += 1;
                *c.devices_by_kind
                    .entry(d.kind.as_str().to_owned())
                    .or_default() += 1;
            }
            Ok(())
        })?;
        *self.census.write().unwrap_or_else(|p| p.into_inner()) = out;
        Ok(())
    }

    /// Events per kind seen by `device` on local `day` (from its timeline;
    /// past days are cached until an event of theirs arrives late).
    pub fn day_counts(
        &self,
        store: &RocksStore,
        device: &DeviceId,
        day: NaiveDate,
    ) -> graph::Result<[u64; 8]> {
        let today = self.clock.local_date(now());
        if day < today
            && let Some(c) = lock(&self.day_counts).get(&(device.clone(), day))
        {
            return Ok(*c);
        }
        let from = self
            .clock
            .from_local(day.and_time(chrono::NaiveTime::MIN))
            .map_err(|e| graph::Error::Invalid(e.to_string()))?;
        let to = self
            .clock
            .from_local((day + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN))
            .map_err(|e| graph::Error::Invalid(e.to_string()))?;
        let page = graph::timeline::timeline(
            store,
            &NodeRef::Device(device.clone()),
            from,
            to,
            usize::MAX / 2,
            false,
        )?;
        let mut counts = [0u64; 8];
        let mut last: Option<(&model::EventId, u8)> = None;
        for s in &page.items {
            if last == Some((&s.event, s.slot)) {
                continue;
            }
            last = Some((&s.event, s.slot));
            counts[kind_index(s.kind)] += 1;
        }
        if day < today {
            lock(&self.day_counts).insert((device.clone(), day), counts);
        }
        Ok(counts)
    }
}
