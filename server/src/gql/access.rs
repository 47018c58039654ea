//! Access-control fields: who am I, cross-region grants, investigation
//! (a subject across regions, region/time collision, saved investigations
//! with export), the audit log and issued tokens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_graphql::{Context, InputObject, Object, SimpleObject};
use model::{BaseKind, BaseRecord, NodeRef, Timestamp};

use super::{AreaInput, Ctx, archive, blocking, fmt_time, node, parse_time};
use super::{Count, Entity, RelationList, Sighting, Trajectory, relations_of, trajectory_out};
use crate::audit;
use crate::auth::Role;
use crate::engine::{Engine, now};
use crate::errors::{ApiError, ApiResult};
use crate::grants::{
    self, Grant as GrantRec, GrantStatus, Investigation as InvestigationRec, Step,
};
use crate::scope::Principal;

#[derive(Debug, Default)]
pub struct AccessQuery;

#[derive(Debug, Default)]
pub struct AccessMutation;

#[derive(Debug, Clone, SimpleObject)]
pub struct Me {
    pub name: String,
    pub role: Role,
    /// Region codes in scope (empty: all regions).
    pub regions: Vec<String>,
    pub sees_identifiers: bool,
    /// Grants in force.
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct GrantStep {
    pub at: String,
    pub action: String,
    pub by: String,
    pub note: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Grant {
    pub id: String,
    pub requester: String,
    pub requester_role: String,
    /// A `kind:key` ref; none: any subject.
    pub subject: Option<String>,
    pub regions: Vec<String>,
    pub reason: String,
    /// Requested duration, seconds from approval.
    pub duration_secs: u64,
    pub status: GrantStatus,
    pub requested: String,
    pub decided_by: Option<String>,
    pub until: Option<String>,
    pub history: Vec<GrantStep>,
}

fn grant_out(e: &Engine, g: GrantRec) -> Grant {
    let clock = &e.clock;
    Grant {
        status: g.status_at(now()),
        id: g.id,
        requester: g.requester,
        requester_role: g.requester_role,
        subject: g.subject,
        regions: g.regions,
        reason: g.reason,
        duration_secs: g.duration_secs,
        requested: fmt_time(clock, g.requested),
        decided_by: g.decided_by,
        until: g.until.map(|t| fmt_time(clock, t)),
        history: g
            .history
            .into_iter()
            .map(|s| GrantStep {
                at: fmt_time(clock, s.at),
                action: s.action,
                by: s.by,
                note: s.note,
            })
            .collect(),
    }
}

/// A subject across every region in scope (its own, and its grants').
#[derive(Debug, Clone, SimpleObject)]
pub struct SubjectInvestigation {
    pub subject: Entity,
    /// Sightings in scope over the window, newest first (at most `limit`).
    pub sightings: Vec<Sighting>,
    /// Sightings in scope per region code.
    pub by_region: Vec<Count>,
    pub trajectory: Trajectory,
    pub relations: RelationList,
}

/// One place and window of a collision query (区域碰撞): a community, a
/// set of devices, or an area (polygon or circle), from `from` to `to`.
#[derive(Debug, InputObject)]
pub struct CollisionCondition {
    pub community: Option<String>,
    #[graphql(default)]
    pub devices: Vec<String>,
    pub area: Option<AreaInput>,
    pub from: String,
    pub to: String,
    /// A label for the report (default `#1`, `#2`, …).
    pub label: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CollisionEvidence {
    /// The condition's index (0-based).
    pub condition: usize,
    pub event: String,
    pub time: String,
    pub device: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CollisionMatch {
    pub entity: Entity,
    /// How many of the conditions it was seen in.
    pub matched: usize,
    /// Which (0-based).
    pub conditions: Vec<usize>,
    /// Its sightings across the matched conditions.
    pub sightings: usize,
    /// Up to three sightings per matched condition.
    pub evidence: Vec<CollisionEvidence>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CollisionResult {
    pub conditions: Vec<String>,
    /// In-scope devices each condition covered.
    pub devices_per_condition: Vec<usize>,
    pub min_matches: usize,
    pub total_count: usize,
    pub matches: Vec<CollisionMatch>,
    /// A condition's sightings were cut at the per-condition read limit.
    pub truncated: bool,
}

#[derive(Debug, InputObject)]
pub struct InvestigationInput {
    /// An existing investigation's id to update; none: a new one.
    pub id: Option<String>,
    pub title: String,
    #[graphql(default)]
    pub subjects: Vec<String>,
    /// The queries that found them (as run, for the record).
    #[graphql(default)]
    pub queries: Vec<String>,
    #[graphql(default)]
    pub notes: String,
}

#[derive(Debug)]
pub struct Investigation(InvestigationRec, Vec<(NodeRef, String)>);

#[Object]
impl Investigation {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn owner(&self) -> &str {
        &self.0.owner
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The subjects still in the owner's scope.
    async fn subjects(&self) -> Vec<Entity> {
        self.1
            .iter()
            .map(|(n, l)| Entity::new(n, l.clone()))
            .collect()
    }
    async fn queries(&self) -> &[String] {
        &self.0.queries
    }
    async fn notes(&self) -> &str {
        &self.0.notes
    }
    async fn created(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.created)
    }
    async fn updated(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.updated)
    }
    /// The investigation as one JSON document.
    async fn export_json(&self, ctx: &Context<'_>) -> String {
        let clock = &ctx.engine().clock;
        serde_json::json!({
            "id": self.0.id,
            "title": self.0.title,
            "owner": self.0.owner,
            "created": fmt_time(clock, self.0.created),
            "updated": fmt_time(clock, self.0.updated),
            "subjects": self.1.iter().map(|(n, l)| serde_json::json!({"ref": n.to_string(), "label": l})).collect::<Vec<_>>(),
            "queries": self.0.queries,
            "notes": self.0.notes,
        })
        .to_string()
    }
    /// The subjects as CSV (`ref,kind,key,label`), for a spreadsheet.
    async fn export_csv(&self) -> String {
        let mut w = csv_writer();
        let _ = w.write_record(["ref", "kind", "key", "label"]);
        for (n, l) in &self.1 {
            let cells = [
                n.to_string(),
                n.kind().as_str().to_owned(),
                n.key().to_owned(),
                l.clone(),
            ];
            let _ = w.write_record(cells.iter().map(|c| csv_cell(c).into_owned()));
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::new())
}

/// A cell a spreadsheet will not run as a formula: one that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return (a visitor's name typed
/// at a gate, say) gets a leading `'` (OWASP, CSV injection).
pub(crate) fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: String,
    pub who: String,
    pub role: String,
    pub token: Option<String>,
    pub operation: String,
    pub fields: Vec<String>,
    pub query: String,
    pub variables: async_graphql::Json<serde_json::Value>,
    pub records: Vec<String>,
    pub records_total: usize,
    pub outcome: String,
    pub hash: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub regions: Vec<String>,
    pub device: Option<String>,
    pub issued: String,
    pub expires: String,
    pub revoked: bool,
}

fn ts(secs: i64) -> Timestamp {
    Timestamp(secs.saturating_mul(1000))
}

/// Grants `p` may see: an admin all; a commander those it may decide and
/// its own; anyone else their own.
fn visible_grant(p: &Principal, g: &GrantRec) -> bool {
    p.regions.is_none() || g.holder == p.holder || (p.role == Role::Commander && covers(p, g))
}

/// Whether a commander's regions cover every target region of a grant.
fn covers(p: &Principal, g: &GrantRec) -> bool {
    p.role.may(crate::scope::Access::GrantDecide)
        && g.regions.iter().all(|r| p.sees_region(Some(r)))
}

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
                by_region: super::counts(&by_region),
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
        let from = super::parse_time_opt(from.as_deref(), &clock)?;
        let to = super::parse_time_opt(to.as_deref(), &clock)?;
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

fn investigation_out(e: &Engine, p: &Principal, i: InvestigationRec) -> ApiResult<Investigation> {
    let store = e.store();
    let mut subjects = Vec::new();
    for s in &i.subjects {
        if let Ok(n) = NodeRef::parse(s)
            && p.sees(e, store, &n)?
        {
            subjects.push(n);
        }
    }
    let labels = e.labels(&subjects)?;
    let subjects = subjects.into_iter().zip(labels).collect();
    Ok(Investigation(i, subjects))
}

struct Place {
    label: String,
    community: Option<String>,
    devices: Vec<String>,
    area: Option<graph::timeline::Area>,
    from: Timestamp,
    to: Timestamp,
}

/// Most sightings read per condition.
const COLLISION_READ_LIMIT: usize = 200_000;

fn collide(
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

#[Object]
impl AccessMutation {
    /// Asks for a cross-region grant: `subject` (a `kind:key` ref; none for
    /// any subject) in `regions`, for `duration` (`8h`, `3d`; at most
    /// `auth.max_ttl`) once approved.
    async fn request_grant(
        &self,
        ctx: &Context<'_>,
        subject: Option<String>,
        regions: Vec<String>,
        reason: String,
        duration: String,
    ) -> async_graphql::Result<Grant> {
        let p = ctx.principal().clone();
        if reason.trim().chars().count() < 4 {
            return Err(
                ApiError::BadInput("reason: say why (at least 4 characters)".into()).into(),
            );
        }
        if regions.is_empty() {
            return Err(ApiError::BadInput("regions: name at least one".into()).into());
        }
        for r in &regions {
            model::RegionCode::new(r)
                .map_err(|e| ApiError::BadInput(format!("region {r:?}: {e}")))?;
        }
        let subject = subject.map(|s| node(&s)).transpose()?;
        if let Some(n) = &subject
            && !matches!(
                n,
                NodeRef::Person(_) | NodeRef::Stranger(_) | NodeRef::Vehicle(_)
            )
        {
            return Err(ApiError::BadInput(
                "subject: a person, stranger archive or vehicle".into(),
            )
            .into());
        }
        let max = ctx.engine().config.auth.max_ttl.clone();
        let d = crate::auth::parse_ttl(&duration, &max)
            .map_err(|e| ApiError::BadInput(e.to_string()))?;
        Ok(blocking(ctx, move |e| {
            let t = now();
            let g = GrantRec {
                id: grants::new_id('G', t),
                requester: p.name.clone(),
                holder: p.holder.clone(),
                requester_role: p.role.as_str().to_owned(),
                subject: subject.map(|n| n.to_string()),
                regions,
                reason: reason.clone(),
                duration_secs: d.as_secs(),
                status: GrantStatus::Requested,
                requested: t,
                decided_by: None,
                until: None,
                history: vec![Step {
                    at: t,
                    action: "requested".into(),
                    by: p.name.clone(),
                    note: reason,
                }],
            };
            e.grants.put(e.store(), &g)?;
            Ok(grant_out(e, g))
        })
        .await?)
    }

    /// Approves a requested grant (a commander whose regions cover every
    /// target region); it runs from now for its requested duration.
    async fn approve_grant(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<Grant> {
        Ok(decide(ctx, id, true, note).await?)
    }

    /// Refuses a requested grant.
    async fn refuse_grant(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<Grant> {
        Ok(decide(ctx, id, false, note).await?)
    }

    /// Ends a grant now (its requester, a commander who may decide it, or
    /// an admin).
    async fn revoke_grant(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<Grant> {
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let mut g = match grants::get(store, &id)? {
                Some(g) if visible_grant(&p, &g) => g,
                _ => return Err(ApiError::NotFound(format!("grant {id}"))),
            };
            let t = now();
            if !matches!(
                g.status_at(t),
                GrantStatus::Requested | GrantStatus::Approved
            ) {
                return Err(ApiError::Conflict(format!("grant {id} is no longer open")));
            }
            g.status = GrantStatus::Revoked;
            g.history.push(Step {
                at: t,
                action: "revoked".into(),
                by: p.name.clone(),
                note,
            });
            e.grants.put(store, &g)?;
            Ok(grant_out(e, g))
        })
        .await?)
    }

    /// Saves (creates or updates) an investigation: subjects, queries, notes.
    async fn save_investigation(
        &self,
        ctx: &Context<'_>,
        input: InvestigationInput,
    ) -> async_graphql::Result<Investigation> {
        if input.title.trim().is_empty() {
            return Err(ApiError::BadInput("title: must not be empty".into()).into());
        }
        let mut subjects = Vec::new();
        for s in &input.subjects {
            let n = node(s)?;
            // only subjects the caller may see can be saved
            archive(ctx, n.clone()).await?;
            subjects.push(n.to_string());
        }
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let t = now();
            let mut inv = match &input.id {
                Some(id) => grants::investigations(store)?
                    .into_iter()
                    .find(|i| &i.id == id && i.holder == p.holder)
                    .ok_or_else(|| ApiError::NotFound(format!("investigation {id}")))?,
                None => InvestigationRec {
                    id: grants::new_id('I', t),
                    owner: p.name.clone(),
                    holder: p.holder.clone(),
                    title: String::new(),
                    subjects: vec![],
                    queries: vec![],
                    notes: String::new(),
                    created: t,
                    updated: t,
                },
            };
            inv.title = input.title;
            inv.subjects = subjects;
            inv.queries = input.queries;
            inv.notes = input.notes;
            inv.updated = t;
            grants::put_investigation(store, &inv)?;
            investigation_out(e, &p, inv)
        })
        .await?)
    }

    async fn delete_investigation(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<bool> {
        let p = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            match grants::investigations(store)?
                .into_iter()
                .find(|i| i.id == id && (i.holder == p.holder || p.regions.is_none()))
            {
                Some(_) => {
                    grants::delete_investigation(store, &id)?;
                    Ok(true)
                }
                None => Err(ApiError::NotFound(format!("investigation {id}"))),
            }
        })
        .await?)
    }

    /// Revokes an issued token (admins only); it is refused from the next
    /// request on.
    async fn revoke_token(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        Ok(blocking(ctx, move |e| {
            if e.auth
                .revoke(&id)
                .map_err(|err| ApiError::Internal(err.to_string()))?
            {
                Ok(true)
            } else {
                Err(ApiError::NotFound(format!("token {id}")))
            }
        })
        .await?)
    }
}

async fn decide(ctx: &Context<'_>, id: String, approve: bool, note: String) -> ApiResult<Grant> {
    let p = ctx.principal().clone();
    blocking(ctx, move |e| {
        let store = e.store();
        let mut g = match grants::get(store, &id)? {
            Some(g) if visible_grant(&p, &g) => g,
            _ => return Err(ApiError::NotFound(format!("grant {id}"))),
        };
        if !covers(&p, &g) && p.regions.is_some() {
            return Err(ApiError::NotFound(format!("grant {id}")));
        }
        if g.holder == p.holder {
            return Err(ApiError::Conflict(
                "a grant is decided by someone other than its requester".into(),
            ));
        }
        if g.status != GrantStatus::Requested {
            return Err(ApiError::Conflict(format!(
                "grant {id} was already decided"
            )));
        }
        let t = now();
        g.decided_by = Some(p.name.clone());
        if approve {
            g.status = GrantStatus::Approved;
            g.until = Some(Timestamp(t.0 + g.duration_secs as i64 * 1000));
        } else {
            g.status = GrantStatus::Refused;
        }
        g.history.push(Step {
            at: t,
            action: if approve { "approved" } else { "refused" }.into(),
            by: p.name.clone(),
            note,
        });
        e.grants.put(store, &g)?;
        Ok(grant_out(e, g))
    })
    .await
}
