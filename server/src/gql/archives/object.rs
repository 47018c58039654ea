//! The archive's fields: profile, relations, sightings, trajectory
//! summary, tags, alerts.

use super::*;

#[Object]
impl Archive {
    /// `kind:key`.
    async fn r#ref(&self) -> String {
        self.node.to_string()
    }

    async fn kind(&self) -> &str {
        self.node.kind().as_str()
    }

    async fn key(&self) -> &str {
        self.node.key()
    }

    /// The display label (a person's name, a community's name, a plate).
    async fn label(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let n = self.node.clone();
        Ok(quick(ctx, move |e| {
            Ok(e.labels(std::slice::from_ref(&n))?.remove(0))
        })
        .await?)
    }

    /// A registered person's profile (identifiers masked per role).
    async fn person(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PersonProfile>> {
        let NodeRef::Person(p) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Person(p)) = load_base(ctx, BaseKind::Person, p.as_str()).await?
        else {
            return Ok(None);
        };
        let who = ctx.principal();
        Ok(Some(PersonProfile {
            id: p.id.as_str().to_owned(),
            name: p.name,
            gender: p.gender.map(|g| g.as_str().to_owned()),
            birth_date: p.birth_date.map(|d| who.mask_birth_date(d)),
            id_number: p.id_number.map(|n| who.mask_id_number(n.as_str())),
            phone: p.phone.map(|n| who.mask_phone(&n)),
            ethnicity: p.ethnicity,
            household: p.household.map(|h| h.as_str().to_owned()),
            categories: p.categories,
            photo_url: p.photo_url,
            has_face: p.face.is_some(),
        }))
    }

    async fn house(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<HouseProfile>> {
        let NodeRef::House(h) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::House(h)) = load_base(ctx, BaseKind::House, h.as_str()).await? else {
            return Ok(None);
        };
        Ok(Some(HouseProfile {
            id: h.id.as_str().to_owned(),
            community: h.community.as_str().to_owned(),
            building: h.building,
            unit: h.unit,
            room: h.room,
            address: h.address,
            area_m2: h.area_m2,
            usage: h.usage.map(|u| u.as_str().to_owned()),
            floor: h.floor,
        }))
    }

    async fn vehicle(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VehicleProfile>> {
        let NodeRef::Vehicle(v) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Vehicle(v)) = load_base(ctx, BaseKind::Vehicle, v.as_str()).await?
        else {
            return Ok(Some(VehicleProfile {
                plate: v.as_str().to_owned(),
                color: None,
                brand: None,
                kind: None,
                owner: None,
                community: None,
                rfid: None,
            }));
        };
        Ok(Some(VehicleProfile {
            plate: v.plate.as_str().to_owned(),
            color: v.color,
            brand: v.brand,
            kind: v.kind.map(|k| k.as_str().to_owned()),
            owner: v.owner.map(|o| o.as_str().to_owned()),
            community: v.community.map(|c| c.as_str().to_owned()),
            rfid: v.rfid.map(|r| r.as_str().to_owned()),
        }))
    }

    async fn community(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<CommunityProfile>> {
        let NodeRef::Community(c) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Community(c)) =
            load_base(ctx, BaseKind::Community, c.as_str()).await?
        else {
            return Ok(None);
        };
        Ok(Some(CommunityProfile {
            id: c.id.as_str().to_owned(),
            name: c.name,
            region: c.region.as_str().to_owned(),
            address: c.address,
            lon: c.center.map(|p| p.lon),
            lat: c.center.map(|p| p.lat),
            kind: c.kind.map(|k| k.as_str().to_owned()),
        }))
    }

    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DeviceProfile>> {
        let NodeRef::Device(d) = &self.node else {
            return Ok(None);
        };
        let Some(BaseRecord::Device(d)) = load_base(ctx, BaseKind::Device, d.as_str()).await?
        else {
            return Ok(None);
        };
        Ok(Some(device_profile(d)))
    }

    /// A community's registers (persons by household and category, houses
    /// by use, vehicles, devices by kind).
    async fn statistics(&self, ctx: &Context<'_>) -> Option<CommunityStatistics> {
        let NodeRef::Community(c) = &self.node else {
            return None;
        };
        let census = ctx.engine().census();
        let cc = census.get(c)?;
        Some(CommunityStatistics {
            persons: cc.persons,
            persons_by_household: counts(&cc.by_household),
            persons_by_category: counts(&cc.by_category),
            houses: cc.houses,
            houses_by_use: counts(&cc.houses_by_use),
            vehicles: cc.vehicles,
            devices: cc.devices,
            devices_by_kind: counts(&cc.devices_by_kind),
        })
    }

    /// A community's devices.
    async fn devices(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DeviceProfile>> {
        let NodeRef::Community(c) = &self.node else {
            return Ok(Vec::new());
        };
        let c = c.clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let mut out = Vec::new();
            store.for_each_base(BaseKind::Device, |r| {
                if let BaseRecord::Device(d) = r
                    && d.community == c
                {
                    out.push(device_profile(d));
                }
                Ok(())
            })?;
            Ok(out)
        })
        .await?)
    }

    /// Any relations, filtered by kind (empty: all), strongest first.
    async fn relations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        let kinds = parse_kinds(&kinds)?;
        let kinds = if kinds.is_empty() {
            RelKind::ALL.to_vec()
        } else {
            kinds
        };
        Ok(self.group(ctx, &kinds, None, limit).await?)
    }

    /// A person's houses (current: `lives_in`, historical: `lived_in`).
    async fn houses(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::LivesIn, RelKind::LivedIn],
                Some(true),
                limit,
            )
            .await?)
    }

    /// A house's residents (current and historical).
    async fn residents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::LivesIn, RelKind::LivedIn],
                Some(false),
                limit,
            )
            .await?)
    }

    /// Registered household members and inferred cohabitants.
    async fn cohabitants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Cohabitant, RelKind::CohabitantInferred],
                None,
                limit,
            )
            .await?)
    }

    async fn kin(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::Kin], None, limit).await?)
    }

    /// Tenancy: landlords of a tenant, tenants of a landlord.
    async fn tenancy(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::TenantOf], None, limit).await?)
    }

    /// Who visited the subject (a host person or house).
    async fn visitors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(ctx, &[RelKind::Visitor], Some(false), limit)
            .await?)
    }

    /// Whom and which houses the subject visited.
    async fn visited(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(ctx, &[RelKind::Visitor], Some(true), limit)
            .await?)
    }

    /// Persons repeatedly seen with the subject (count, last seen, evidence).
    async fn companions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self.group(ctx, &[RelKind::Companion], None, limit).await?)
    }

    /// A person's vehicles: owned, driven, ridden.
    async fn vehicles(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Owns, RelKind::Drives, RelKind::Rides],
                Some(true),
                limit,
            )
            .await?)
    }

    /// A vehicle's people: its owner, drivers and riders.
    async fn occupants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: usize,
    ) -> async_graphql::Result<RelationList> {
        Ok(self
            .group(
                ctx,
                &[RelKind::Owns, RelKind::Drives, RelKind::Rides],
                Some(false),
                limit,
            )
            .await?)
    }

    /// Sightings newest first (a device's or house's: its passes), paged.
    async fn sightings(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Sighting>> {
        let first = ctx.page_size(first)?;
        let clock = ctx.engine().clock;
        let from = parse_time_opt(from.as_deref(), &clock)?.unwrap_or(Timestamp(i64::MIN));
        let mut to = parse_time_opt(to.as_deref(), &clock)?.unwrap_or(Timestamp(i64::MAX));
        let cursor = after.as_deref().map(parse_cursor).transpose()?;
        if let Some((t, _, _)) = &cursor {
            to = to.min(Timestamp(t.saturating_add(1)));
        }
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        // a caller who sees everything reads one page of exactly what it
        // shows (bounded: on the calling task); a regional caller's pages
        // are filtered, read with room for what the filter drops, and may
        // take many reads (on the blocking pool)
        let sees_all = principal.regions.is_none();
        let page_size = if sees_all { first + 1 } else { first + 64 };
        let read = move |e: &crate::engine::Engine| {
            let store = e.store();
            // sightings at devices out of the caller's scope (and not under
            // a grant on this subject) are left out, page by page
            let (mut to, mut cursor) = (to, cursor);
            let mut out = Vec::new();
            for _round in 0..64 {
                let mut page = graph::timeline::timeline(store, &node, from, to, page_size, true)?;
                if let Some((t, ev, slot)) = &cursor {
                    page.items.retain(|s| {
                        (s.time.0, s.event.as_str(), s.slot) < (*t, ev.as_str(), *slot)
                    });
                }
                let exhausted = !page.more;
                let last = page
                    .items
                    .last()
                    .map(|s| (s.time.0, s.event.as_str().to_owned(), s.slot));
                for s in page.items {
                    if principal.sees_at(e, store, &s.device, &[&node])? {
                        out.push(s);
                        if out.len() > first {
                            break;
                        }
                    }
                }
                if out.len() > first || exhausted {
                    break;
                }
                match last {
                    Some(l) => {
                        to = Timestamp(l.0.saturating_add(1));
                        cursor = Some(l);
                    }
                    None => break,
                }
            }
            let more = out.len() > first;
            out.truncate(first);
            Ok((out, more))
        };
        let (items, more) = if sees_all {
            quick(ctx, read).await?
        } else {
            blocking(ctx, read).await?
        };
        let mut conn = Connection::new(cursor_present(&after), more);
        conn.edges.extend(items.into_iter().map(|s| {
            ctx.note(s.event.as_str());
            let c = format!("{}|{}|{}", s.time.0, s.event.as_str(), s.slot);
            Edge::new(c, Sighting::new(&clock, s))
        }));
        Ok(conn)
    }

    /// Footholds, frequented communities and activity by hour over the last
    /// `days` days (up to now, or to the subject's latest sighting).
    async fn trajectory_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: i64,
    ) -> async_graphql::Result<TrajectorySummary> {
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        // most subjects have a few sightings a day: their summary is read
        // on the calling task, at most QUICK_POINTS sightings; a subject
        // with more is summarised (again, in full) on the blocking pool
        let summary = move |e: &Engine, most: Option<usize>| -> ApiResult<_> {
            let store = e.store();
            let mut params = e.config.trajectory_params();
            if let Some(most) = most {
                params.max_points = params.max_points.min(most);
            }
            let t = graph::timeline::recent(
                store,
                &node,
                days,
                crate::engine::now(),
                &e.clock,
                &params,
                &mut |d| principal.sees_at(e, store, d, &[&node]),
            )?;
            if most.is_some() && t.truncated {
                return Ok(None);
            }
            Ok(Some(TrajectorySummary {
                footholds: footholds(&t.footholds),
                communities: frequented(&t.communities),
                by_hour: t.by_hour.to_vec(),
                sightings: t.by_hour.iter().sum(),
            }))
        };
        let first = summary.clone();
        if let Some(s) = quick(ctx, move |e| first(e, Some(QUICK_POINTS))).await? {
            return Ok(s);
        }
        let s = blocking(ctx, move |e| summary(e, None)).await?;
        Ok(s.ok_or_else(|| ApiError::Internal("trajectory summary".into()))?)
    }

    /// A house's night entrants: who passed its unit's doors at night over
    /// the last `days` days (to its latest pass), most nights first.
    async fn night_entrants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: i64,
        #[graphql(default = 20)] limit: usize,
    ) -> async_graphql::Result<Vec<NightEntrant>> {
        let NodeRef::House(h) = &self.node else {
            return Ok(Vec::new());
        };
        let (h, limit) = (h.clone(), limit.min(ctx.max_page()));
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let Some(BaseRecord::House(house)) = store.base(BaseKind::House, h.as_str())? else {
                return Ok(Vec::new());
            };
            let mut doors = Vec::new();
            store.for_each_base(BaseKind::Device, |r| {
                if let BaseRecord::Device(d) = r
                    && d.community == house.community
                    && d.kind == model::DeviceKind::UnitDoor
                    && d.building.as_deref() == Some(house.building.as_str())
                    && d.unit.as_deref() == Some(house.unit.as_str())
                {
                    doors.push(NodeRef::Device(d.id));
                }
                Ok(())
            })?;
            let all = (Timestamp(i64::MIN), Timestamp(i64::MAX));
            let mut latest = Timestamp(i64::MIN);
            for d in &doors {
                if let Some(s) = graph::timeline::timeline(store, d, all.0, all.1, 1, true)?
                    .items
                    .first()
                {
                    latest = latest.max(s.time);
                }
            }
            let to = Timestamp(latest.0.saturating_add(1));
            let from = Timestamp(to.0.saturating_sub(days.clamp(1, 366) * 86_400_000));
            let mut per: std::collections::BTreeMap<
                NodeRef,
                (std::collections::BTreeSet<chrono::NaiveDate>, Timestamp),
            > = Default::default();
            for d in &doors {
                let page = graph::timeline::timeline(store, d, from, to, 200_000, false)?;
                for s in page.items {
                    let Some(night) = e.clock.night_of(s.time) else {
                        continue;
                    };
                    for subj in s.subjects {
                        let entry = per
                            .entry(subj)
                            .or_insert_with(|| (Default::default(), Timestamp(i64::MIN)));
                        entry.0.insert(night);
                        entry.1 = entry.1.max(s.time);
                    }
                }
            }
            let residents: std::collections::BTreeSet<NodeRef> = e
                .relations()
                .neighbours(
                    &NodeRef::House(h.clone()),
                    &graph::EdgeFilter::kinds(&[RelKind::LivesIn]),
                    usize::MAX,
                )?
                .items
                .into_iter()
                .map(|n| n.node)
                .collect();
            let mut rows: Vec<(NodeRef, u32, Timestamp)> = per
                .into_iter()
                .map(|(n, (nights, last))| (n, nights.len() as u32, last))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
            let mut out = Vec::new();
            for (n, nights, last) in rows {
                if out.len() == limit {
                    break;
                }
                if !principal.sees(e, store, &n)? {
                    continue;
                }
                let label = e.labels(std::slice::from_ref(&n))?.remove(0);
                out.push(NightEntrant {
                    registered: residents.contains(&n),
                    entity: Entity::new(&n, label),
                    nights,
                    last_seen: fmt_time(&e.clock, last),
                });
            }
            Ok(out)
        })
        .await?)
    }

    /// The analysis models' tags on the subject (retired ones too when
    /// `includeRetired`).
    async fn tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_retired: bool,
    ) -> async_graphql::Result<Vec<Tag>> {
        let me = self.node.to_string();
        let node = self.node.clone();
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let mut tags = crate::tagbook::tags_of(store, &me)?;
            // evidence the caller may not see is left out: events at devices
            // out of scope, related archives out of scope; and then the
            // model's detail too, which describes all of the evidence
            if principal.regions.is_some() {
                for t in &mut tags {
                    let mut kept = Vec::new();
                    let all = t.evidence.len();
                    for ev in std::mem::take(&mut t.evidence) {
                        let events = store.events_with_id(&ev)?;
                        let visible = if !events.is_empty() {
                            let mut all = true;
                            for x in &events {
                                all &= principal.sees_at(e, store, &x.device, &[&node])?;
                            }
                            all
                        } else if let Ok(n) = NodeRef::parse(&ev) {
                            principal.sees_beside(e, store, &node, &n)?
                        } else {
                            true
                        };
                        if visible {
                            kept.push(ev);
                        }
                    }
                    if kept.len() < all {
                        t.detail = "withheld: part of the evidence is outside your regions".into();
                    }
                    t.evidence = kept;
                }
            }
            let suggest = tags
                .iter()
                .any(|t| t.model == "unregistered_resident" && t.active)
                && matches!(node, NodeRef::Stranger(_));
            let suggestions = if suggest {
                let k = e.config.analysis.unregistered_resident.suggestions as usize;
                let hits = e
                    .projector
                    .matcher
                    .similar(&node, k, 0.0, None)?
                    .unwrap_or_default();
                face_hits(e, &principal, hits)?
            } else {
                Vec::new()
            };
            Ok(tags
                .into_iter()
                .filter(|t| t.active || include_retired)
                .map(|t| Tag {
                    suggestions: if t.model == "unregistered_resident" {
                        suggestions.clone()
                    } else {
                        Vec::new()
                    },
                    model: t.model,
                    active: t.active,
                    from: fmt_time(&e.clock, t.from),
                    to: fmt_time(&e.clock, t.to),
                    score: t.score,
                    detail: t.detail,
                    evidence: t.evidence,
                    history: t
                        .history
                        .into_iter()
                        .map(|h| TagEpisode {
                            since: fmt_time(&e.clock, h.since),
                            until: h.until.map(|u| fmt_time(&e.clock, u)),
                        })
                        .collect(),
                })
                .collect())
        })
        .await?)
    }

    /// Alerts about the subject that are not handled yet.
    async fn open_alerts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Alert>> {
        let me = self.node.to_string();
        let principal = ctx.principal().clone();
        Ok(quick(ctx, move |e| {
            let store = e.store();
            let mut out = Vec::new();
            book::of_subject(store, &me, |a| {
                if a.status != book::AlertStatus::Handled
                    && principal.sees_region(a.region.as_deref())
                {
                    out.push(Alert(a));
                }
                out.len() < 100
            })?;
            Ok(out)
        })
        .await?)
    }

    /// The watch lists the subject is on.
    async fn watch_lists(&self, ctx: &Context<'_>) -> Vec<WatchList> {
        let me = self.node.to_string();
        let plate = match &self.node {
            NodeRef::Vehicle(p) => Some(p.as_str().to_owned()),
            _ => None,
        };
        let p = ctx.principal();
        ctx.engine()
            .watch_lists()
            .into_iter()
            .filter(|l| {
                l.persons.contains(&me) || plate.as_ref().is_some_and(|p| l.plates.contains(p))
            })
            // the lists of the caller's regions only (a list of all regions:
            // an all-regions caller's)
            .filter(|l| p.regions.is_none() || p.sees_region(Some(&l.region)))
            .map(WatchList)
            .collect()
    }

    /// For a stranger archive: the registered persons with the most similar
    /// faces (suggestions to merge); for a person: the most similar stranger
    /// archives.
    async fn similar_faces(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 3)] k: usize,
        #[graphql(default = 0.5)] min_score: f64,
    ) -> async_graphql::Result<Vec<FaceHit>> {
        let node = self.node.clone();
        let k = k.min(ctx.max_page());
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let hits = e
                .projector
                .matcher
                .similar(&node, k, min_score as f32, None)?
                .unwrap_or_default();
            face_hits(e, &principal, hits)
        })
        .await?)
    }
}

fn parse_cursor(s: &str) -> ApiResult<(i64, String, u8)> {
    let bad = || ApiError::BadInput(format!("cursor {s:?} is not one this API returned"));
    let mut it = s.splitn(3, '|');
    let t = it.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    let ev = it.next().ok_or_else(bad)?.to_owned();
    let slot = it.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    Ok((t, ev, slot))
}

fn cursor_present(after: &Option<String>) -> bool {
    after.is_some()
}
