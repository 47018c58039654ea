//! Access-control fields: who am I, cross-region grants, investigation
//! (a subject across regions, region/time collision, saved investigations
//! with export), the audit log and issued tokens.

mod collision;
mod mutation;
mod query;

use collision::{Place, collide};

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
