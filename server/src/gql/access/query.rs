//! Grants, investigations, collisions, the audit log and tokens: reads.

use super::*;

#[Object]
impl AccessQuery {
    /// The caller: name, role, regions and grants in force.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let p = ctx.principal().clone();
        let grants = blocking(ctx, move |e| {
            let store = e.store();
            let mut out = Vec::new();
            for g in &p.grants {
                if let Some(g) = grants::get(store, &g.id)? {
                    out.push(grant_out(e, g));
                }
            }
            Ok(out)
        })
        .await?;
        let p = ctx.principal();
        Ok(Me {
            name: p.name.clone(),
            role: p.role,
            regions: p.regions.clone().unwrap_or_default(),
            sees_identifiers: p.see_identifiers,
            grants,
        })
    }

    /// Cross-region grants: one's own; for a commander also those it may
    /// decide; for an admin all. Newest first.
    async fn grants(
        &self,
        ctx: &Context<'_>,
        status: Option<GrantStatus>,
    ) -> async_graphql::Result<Vec<Grant>> {
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let t = now();
            let mut out: Vec<Grant> = grants::all(e.store())?
                .into_iter()
                .filter(|g| visible_grant(&p, g))
                .filter(|g| status.is_none_or(|s| g.status_at(t) == s))
                .map(|g| grant_out(e, g))
                .collect();
            out.reverse();
            Ok(out)
        })
        .await?)
    }

    /// A subject across all the regions in scope — the caller's and, under
    /// a grant, the granted ones: sightings, where, trajectory, relations.
    async fn investigate(
        &self,
        ctx: &Context<'_>,
        subject: String,
        from: String,
        to: String,
        #[graphql(default = 100)] limit: usize,
    ) -> async_graphql::Result<SubjectInvestigation> {
        let n = node(&subject)?;
        let clock = ctx.engine().clock;
        let (from, to) = (parse_time(&from, &clock)?, parse_time(&to, &clock)?);
        let limit = limit.min(ctx.max_page());
        archive(ctx, n.clone()).await?;
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let params = e.config.trajectory_params();
            // one read of the window, oldest first: what the caller may see of
            // it is counted per region, listed newest first, and makes the
            // trajectory
            let mut page =
                graph::timeline::timeline(store, &n, from, to, params.max_points, false)?;
            let mut by_region: BTreeMap<String, u64> = BTreeMap::new();
            let mut kept = Vec::with_capacity(page.items.len());
            for s in std::mem::take(&mut page.items) {
                let region = e.device_place(store, &s.device)?.map(|(_, r)| r);
                if p.sees_region_about(region.as_deref(), &[&n]) {
                    *by_region.entry(region.unwrap_or_default()).or_default() += 1;
                    kept.push(s);
                }
            }
            let sightings = kept
                .iter()
                .rev()
                .take(limit)
                .map(|s| Sighting::new(&e.clock, s.clone()))
                .collect();
            page.items = kept;
            let t = graph::timeline::trajectory_of(store, page, None, &e.clock, &params)?;
            let f = graph::EdgeFilter::default();
            let nb = e.relations().neighbours(&n, &f, 2_000)?;
            let relations = relations_of(e, &p, &n, nb, limit)?;
            let label = e.labels(std::slice::from_ref(&n))?.remove(0);
            Ok(SubjectInvestigation {
                subject: Entity::new(&n, label),
                sightings,
                by_region: crate::gql::counts(&by_region),
                trajectory: trajectory_out(&e.clock, t),
                relations,
            })
        })
        .await?)
    }

    /// Region/time collision (区域碰撞): the persons, stranger archives and
    /// vehicles seen in every condition (or in at least `minMatches` of
    /// them), ranked by conditions matched, then by sightings, with the
    /// evidence for each. Only devices in the caller's scope count.
    async fn collision(
        &self,
        ctx: &Context<'_>,
        conditions: Vec<CollisionCondition>,
        min_matches: Option<usize>,
        #[graphql(default, desc = "`person`, `stranger`, `vehicle` (default all three)")]
        kinds: Vec<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<CollisionResult> {
        let first = ctx.page_size(first)?;
        if !(2..=10).contains(&conditions.len()) {
            return Err(ApiError::BadInput("a collision takes 2 to 10 conditions".into()).into());
        }
        let min = min_matches.unwrap_or(conditions.len());
        if min < 1 || min > conditions.len() {
            return Err(ApiError::BadInput(format!(
                "minMatches must be between 1 and {}",
                conditions.len()
            ))
            .into());
        }
        for k in &kinds {
            if !matches!(k.as_str(), "person" | "stranger" | "vehicle") {
                return Err(ApiError::BadInput(format!(
                    "kinds: {k:?} is not person, stranger or vehicle"
                ))
                .into());
            }
        }
        let clock = ctx.engine().clock;
        let mut places = Vec::new();
        for (i, c) in conditions.into_iter().enumerate() {
            let (from, to) = (parse_time(&c.from, &clock)?, parse_time(&c.to, &clock)?);
            if to <= from || to.0 - from.0 > 31 * 86_400_000 {
                return Err(ApiError::BadInput(format!(
                    "condition {i}: the window must be positive and at most 31 days"
                ))
                .into());
            }
            let area = c.area.as_ref().map(|a| a.to_area()).transpose()?;
            let n_places = usize::from(c.community.is_some())
                + usize::from(!c.devices.is_empty())
                + usize::from(area.is_some());
            if n_places != 1 {
                return Err(ApiError::BadInput(format!(
                    "condition {i}: give exactly one of community, devices or area"
                ))
                .into());
            }
            places.push(Place {
                label: c.label.unwrap_or_else(|| format!("#{}", i + 1)),
                community: c.community,
                devices: c.devices,
                area,
                from,
                to,
            });
        }
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| collide(e, &p, places, min, &kinds, first)).await?)
    }

    /// The caller's saved investigations (an admin: everyone's), newest first.
    async fn investigations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Investigation>> {
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            grants::investigations(store)?
                .into_iter()
                .filter(|i| i.holder == p.holder || p.regions.is_none())
                .map(|i| investigation_out(e, &p, i))
                .collect()
        })
        .await?)
    }

    async fn investigation(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Investigation> {
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let i = grants::investigations(store)?
                .into_iter()
                .find(|i| i.id == id && (i.holder == p.holder || p.regions.is_none()))
                .ok_or_else(|| ApiError::NotFound(format!("investigation {id}")))?;
            investigation_out(e, &p, i)
        })
        .await?)
    }

    /// The audit log, newest first (admins only).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        who: Option<String>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(desc = "Entries before this sequence number (paging).")] before: Option<u64>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<AuditEntry>> {
        let first = ctx.page_size(first)?;
        let clock = ctx.engine().clock;
        let from = crate::gql::parse_time_opt(from.as_deref(), &clock)?;
        let to = crate::gql::parse_time_opt(to.as_deref(), &clock)?;
        Ok(blocking(ctx, move |e| {
            let mut out = Vec::new();
            audit::scan(e.store(), before, |a| {
                if from.is_some_and(|f| a.at < f.0) {
                    return false;
                }
                if to.is_none_or(|t| a.at < t.0) && who.as_ref().is_none_or(|w| &a.who == w) {
                    out.push(AuditEntry {
                        seq: a.seq,
                        at: fmt_time(&e.clock, Timestamp(a.at)),
                        who: a.who,
                        role: a.role,
                        token: a.token,
                        operation: a.operation,
                        fields: a.fields,
                        query: a.query,
                        variables: async_graphql::Json(a.variables),
                        records: a.records,
                        records_total: a.records_total,
                        outcome: a.outcome,
                        hash: a.hash,
                    });
                }
                out.len() < first
            })?;
            Ok(out)
        })
        .await?)
    }

    /// Verifies the audit log's hash chain from its oldest kept entry to
    /// the newest (admins only).
    async fn audit_verify(&self, ctx: &Context<'_>) -> async_graphql::Result<audit::Verification> {
        Ok(blocking(ctx, move |e| {
            let mut v = audit::verify(e.store())?;
            // the newest entry must be the one the log last wrote (a lost tail)
            let next = e.audit.next_seq();
            if v.ok && v.last_seq.map_or(0, |s| s + 1) != next && v.entries > 0 {
                v.ok = false;
                v.broken_at = v.last_seq;
                v.problem = Some(format!(
                    "the newest entry is {:?}, the log wrote up to {}",
                    v.last_seq,
                    next.saturating_sub(1)
                ));
            }
            Ok(v)
        })
        .await?)
    }

    /// Tokens issued on this deployment (admins only).
    async fn tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Token>> {
        Ok(blocking(ctx, move |e| {
            let clock = &e.clock;
            Ok(e.auth
                .issued()
                .map_err(|err| ApiError::Internal(err.to_string()))?
                .into_iter()
                .rev()
                .map(|(c, revoked)| Token {
                    id: c.jti,
                    name: c.sub,
                    role: c.role,
                    regions: c.regions,
                    device: c.device,
                    issued: fmt_time(clock, ts(c.iat)),
                    expires: fmt_time(clock, ts(c.exp)),
                    revoked,
                })
                .collect())
        })
        .await?)
    }
}
