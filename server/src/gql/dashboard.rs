//! Dashboards: counts of a region and period.

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct DayCount {
    pub day: String,
    pub r#type: String,
    pub count: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityCount {
    pub community: String,
    pub name: String,
    pub events: u64,
}

/// A region on the way down from the caller's own regions to a dashboard's.
#[derive(Debug, Clone, SimpleObject)]
pub struct RegionStep {
    pub region: String,
    pub name: String,
}

/// One region directly below a dashboard's (its drill-down), with its counts
/// over the dashboard's window.
#[derive(Debug, Clone, SimpleObject)]
pub struct SubRegion {
    pub region: String,
    pub name: String,
    /// `province`, `city`, `district`, `station` or `community`.
    pub level: String,
    pub communities: u64,
    pub persons: u64,
    pub houses: u64,
    pub events: u64,
    pub alerts: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Dashboard {
    pub region: String,
    /// The region's registered name (empty for all regions in scope, or an
    /// unknown region).
    pub region_name: String,
    /// The regions from the caller's own down to this one, this one last
    /// (for a breadcrumb); empty for all regions in scope.
    pub path: Vec<RegionStep>,
    /// The regions one level below (for all regions in scope: the caller's
    /// own regions, or the top ones), each with its counts.
    pub sub_regions: Vec<SubRegion>,
    pub from: String,
    pub to: String,
    pub communities: u64,
    pub persons: u64,
    pub persons_by_household: Vec<Count>,
    pub persons_by_category: Vec<Count>,
    pub houses: u64,
    pub houses_by_use: Vec<Count>,
    pub vehicles: u64,
    pub devices: u64,
    pub devices_by_kind: Vec<Count>,
    pub events: u64,
    pub events_per_day: Vec<DayCount>,
    /// Alerts raised per day, `type` being their status now.
    pub alerts_per_day: Vec<DayCount>,
    pub alerts_by_kind: Vec<Count>,
    pub alerts_by_status: Vec<Count>,
    /// Handled alerts disposed of as false alarms (0 when none is handled).
    pub false_alarm_rate: f64,
    pub top_communities: Vec<CommunityCount>,
}

fn dashboard(
    e: &Engine,
    principal: &Principal,
    region: Option<String>,
    from: Timestamp,
    to: Timestamp,
    top: usize,
) -> ApiResult<Dashboard> {
    if let Some(r) = &region {
        model::RegionCode::new(r)
            .map_err(|err| ApiError::BadInput(format!("region {r:?}: {err}")))?;
    }
    let in_scope = |r: &str| {
        principal.sees_region(Some(r))
            && region
                .as_deref()
                .is_none_or(|want| crate::engine::region_within(r, want))
    };
    let census = e.census();
    let picked: BTreeMap<&CommunityId, &crate::engine::CommunityCensus> =
        census.iter().filter(|(_, c)| in_scope(&c.region)).collect();
    let mut d = Dashboard {
        region: region.clone().unwrap_or_default(),
        region_name: String::new(),
        path: vec![],
        sub_regions: vec![],
        from: fmt_time(&e.clock, from),
        to: fmt_time(&e.clock, to),
        communities: picked.len() as u64,
        persons: 0,
        persons_by_household: vec![],
        persons_by_category: vec![],
        houses: 0,
        houses_by_use: vec![],
        vehicles: 0,
        devices: 0,
        devices_by_kind: vec![],
        events: 0,
        events_per_day: vec![],
        alerts_per_day: vec![],
        alerts_by_kind: vec![],
        alerts_by_status: vec![],
        false_alarm_rate: 0.0,
        top_communities: vec![],
    };
    let (mut hh, mut cat, mut uses, mut kinds) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    for c in picked.values() {
        d.persons += c.persons;
        d.houses += c.houses;
        d.vehicles += c.vehicles;
        d.devices += c.devices;
        for (k, v) in &c.by_household {
            *hh.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.by_category {
            *cat.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.houses_by_use {
            *uses.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.devices_by_kind {
            *kinds.entry(k.clone()).or_default() += v;
        }
    }
    d.devices_by_kind = counts(&kinds);
    d.persons_by_household = counts(&hh);
    d.persons_by_category = counts(&cat);
    d.houses_by_use = counts(&uses);

    // events per type per day, from the devices of the communities in scope
    let store = e.store();
    let mut devices: Vec<(model::DeviceId, CommunityId)> = Vec::new();
    store.for_each_base(BaseKind::Device, |r| {
        if let BaseRecord::Device(dv) = r
            && picked.contains_key(&dv.community)
        {
            devices.push((dv.id, dv.community));
        }
        Ok(())
    })?;
    let first_day = e.clock.local_date(from);
    let last_day = e.clock.local_date(Timestamp(to.0 - 1));
    let mut per_day: BTreeMap<(chrono::NaiveDate, usize), u64> = BTreeMap::new();
    let mut per_community: BTreeMap<&CommunityId, u64> = BTreeMap::new();
    let mut day = first_day;
    while day <= last_day {
        for (dev, c) in &devices {
            let counts = e.day_counts(store, dev, day)?;
            for (i, n) in counts.iter().enumerate() {
                if *n > 0 {
                    *per_day.entry((day, i)).or_default() += n;
                    *per_community.entry(c).or_default() += n;
                    d.events += n;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    d.events_per_day = per_day
        .into_iter()
        .map(|((day, i), n)| DayCount {
            day: day.to_string(),
            r#type: KINDS[i].as_str().to_owned(),
            count: n,
        })
        .collect();
    let mut tops: Vec<(&CommunityId, u64)> = per_community.iter().map(|(c, n)| (*c, *n)).collect();
    tops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    d.top_communities = tops
        .into_iter()
        .take(top.min(100))
        .map(|(c, n)| CommunityCount {
            community: c.as_str().to_owned(),
            name: census.get(c).map(|c| c.name.clone()).unwrap_or_default(),
            events: n,
        })
        .collect();

    // alerts in the window
    let (mut by_kind, mut by_status) = (BTreeMap::new(), BTreeMap::new());
    let (mut handled, mut false_alarms) = (0u64, 0u64);
    let mut alerts_per_day: BTreeMap<(chrono::NaiveDate, String), u64> = BTreeMap::new();
    let mut alerts_per_region: BTreeMap<String, u64> = BTreeMap::new();
    book::scan(store, None, |a| {
        if a.time < from {
            return false;
        }
        if a.time < to && a.region.as_deref().is_some_and(&in_scope) {
            let kind = a.kind.split(':').next().unwrap_or_default().to_owned();
            *by_kind.entry(kind).or_default() += 1;
            let st = serde_json::to_value(a.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *by_status.entry(st.clone()).or_default() += 1;
            *alerts_per_day
                .entry((e.clock.local_date(a.time), st))
                .or_default() += 1;
            if let Some(r) = &a.region {
                *alerts_per_region.entry(r.clone()).or_default() += 1;
            }
            if a.status == AlertStatus::Handled {
                handled += 1;
                if a.disposition == Some(Disposition::FalseAlarm) {
                    false_alarms += 1;
                }
            }
        }
        true
    })?;
    d.alerts_per_day = alerts_per_day
        .into_iter()
        .map(|((day, st), n)| DayCount {
            day: day.to_string(),
            r#type: st,
            count: n,
        })
        .collect();
    d.alerts_by_kind = counts(&by_kind);
    d.alerts_by_status = counts(&by_status);
    d.false_alarm_rate = if handled == 0 {
        0.0
    } else {
        false_alarms as f64 / handled as f64
    };

    // where the region sits, and what lies below it
    let tree = e.region_tree()?;
    let nameable = |r: &str| principal.sees_region(Some(r)) || principal.encloses(r);
    if let Some(code) = region
        .as_deref()
        .and_then(|r| model::RegionCode::new(r).ok())
    {
        if nameable(code.as_str()) {
            d.region_name = tree.get(&code).map(|r| r.name.clone()).unwrap_or_default();
        }
        let mut path: Vec<RegionStep> = tree
            .ancestors(&code)
            .into_iter()
            .filter(|r| principal.sees_region(Some(r.code.as_str())))
            .map(|r| RegionStep {
                region: r.code.as_str().to_owned(),
                name: r.name.clone(),
            })
            .collect();
        path.reverse();
        d.path = path;
    }
    let below: Vec<(String, String, String)> = match (&region, &principal.regions) {
        (Some(r), _) => {
            let code =
                model::RegionCode::new(r).map_err(|err| ApiError::BadInput(err.to_string()))?;
            tree.children(&code)
                .filter(|c| nameable(c.code.as_str()))
                .map(|c| {
                    (
                        c.code.as_str().to_owned(),
                        c.name.clone(),
                        c.level.as_str().to_owned(),
                    )
                })
                .collect()
        }
        (None, Some(own)) => own
            .iter()
            .map(|r| {
                let known = model::RegionCode::new(r)
                    .ok()
                    .and_then(|c| tree.get(&c).cloned());
                let level = model::RegionCode::new(r).map(|c| c.level().as_str().to_owned());
                (
                    r.clone(),
                    known.map(|k| k.name).unwrap_or_default(),
                    level.unwrap_or_default(),
                )
            })
            .collect(),
        (None, None) => tree
            .roots()
            .map(|c| {
                (
                    c.code.as_str().to_owned(),
                    c.name.clone(),
                    c.level.as_str().to_owned(),
                )
            })
            .collect(),
    };
    for (code, name, level) in below {
        let mut s = SubRegion {
            region: code,
            name,
            level,
            communities: 0,
            persons: 0,
            houses: 0,
            events: 0,
            alerts: 0,
        };
        for (id, c) in &picked {
            if crate::engine::region_within(&c.region, &s.region) {
                s.communities += 1;
                s.persons += c.persons;
                s.houses += c.houses;
                s.events += per_community.get(id).copied().unwrap_or(0);
            }
        }
        s.alerts = alerts_per_region
            .iter()
            .filter(|(r, _)| crate::engine::region_within(r, &s.region))
            .map(|(_, n)| n)
            .sum();
        d.sub_regions.push(s);
    }
    Ok(d)
}

#[derive(Debug, Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// Counts for a region (default: all in scope) over `[from, to)`:
    /// registers, events per type per day, alerts, top communities.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        from: String,
        to: String,
        #[graphql(default = 10)] top: usize,
    ) -> async_graphql::Result<Dashboard> {
        let clock = ctx.engine().clock;
        let (from_t, to_t) = (parse_time(&from, &clock)?, parse_time(&to, &clock)?);
        if to_t.0 - from_t.0 > 366 * 86_400_000 {
            return Err(ApiError::BadInput("a dashboard spans at most 366 days".into()).into());
        }
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            dashboard(e, &principal, region, from_t, to_t, top)
        })
        .await?)
    }
}
