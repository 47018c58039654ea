//! The one choke point every read goes through: who is asking, what their
//! role may do ([`access`], checked for every root field before it runs)
//! and which regions they may see ([`Principal::sees`] and friends, which
//! every resolver calls and which fail closed: an unknown region, a node
//! without a place, a field without a policy row — all are "no").

use graph::RocksStore;
use model::{BaseKind, BaseRecord, NodeRef};

use super::engine::{Engine, now, region_within};
use crate::auth::Role;

pub use crate::grants::ActiveGrant;

#[derive(Debug, Clone)]
pub struct Principal {
    /// The holder's name, as the audit log shows it.
    pub name: String,
    /// The holder's identity (grants and saved investigations belong to
    /// it), set by the token's issuer: [`crate::auth::Claims::holder`].
    pub holder: String,
    pub role: Role,
    /// Region codes the principal may see (a region includes all below it);
    /// `None`: all regions.
    pub regions: Option<Vec<String>>,
    /// May see identity numbers and phones unmasked.
    pub see_identifiers: bool,
    /// The token's id (none for the local principal of an open server).
    pub token: Option<String>,
    /// A device token's device (intake only).
    pub device: Option<String>,
    /// Approved, unexpired cross-region grants.
    pub grants: Vec<ActiveGrant>,
}

/// What a root field does, for the role table ([`Role::may`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Archives, search, trajectories, relations, events, investigation.
    Personal,
    /// Counts only (the dashboard).
    Aggregate,
    /// Who am I.
    Status,
    /// Reading alerts (and the live alert stream).
    Alerts,
    /// Signing and handling alerts.
    AlertWork,
    /// Reading watch lists (they name persons).
    WatchRead,
    /// Changing watch lists.
    WatchWrite,
    /// Running the analysis job.
    Analysis,
    /// Merging a stranger archive into a person.
    Merge,
    /// Asking for a cross-region grant.
    GrantRequest,
    /// Seeing grants (one's own, or those one may decide).
    GrantRead,
    /// Approving or refusing grants.
    GrantDecide,
    /// Saved investigations.
    Investigate,
    /// The audit log.
    Audit,
    /// Server status (deployment-wide counts), issued tokens and their
    /// revocation.
    Admin,
}

impl Access {
    /// Whether a field of this class returns personal data (and so is
    /// written to the audit log).
    pub fn personal(self) -> bool {
        !matches!(
            self,
            Access::Aggregate | Access::Status | Access::Audit | Access::Admin
        )
    }
}

/// The policy row of every root field — a root field without one is
/// refused for everyone (and the authorization matrix test fails) — and of
/// every nested field that returns personal data (every field returning an
/// `Archive` has one; a test holds the schema to it), checked wherever it
/// is selected, so nesting cannot reach what the root rows refuse. A nested
/// field without a row is its parent's.
pub const FIELDS: &[(&str, &str, Access)] = &[
    ("Alert", "archive", Access::Personal),
    ("Entity", "archive", Access::Personal),
    ("Query", "person", Access::Personal),
    ("Query", "stranger", Access::Personal),
    ("Query", "house", Access::Personal),
    ("Query", "vehicle", Access::Personal),
    ("Query", "community", Access::Personal),
    ("Query", "device", Access::Personal),
    ("Query", "archive", Access::Personal),
    ("Query", "event", Access::Personal),
    ("Query", "search", Access::Personal),
    ("Query", "faceSearch", Access::Personal),
    ("Query", "trajectory", Access::Personal),
    ("Query", "neighbours", Access::Personal),
    ("Query", "subgraph", Access::Personal),
    ("Query", "paths", Access::Personal),
    ("Query", "commonAssociates", Access::Personal),
    ("Query", "evidence", Access::Personal),
    ("Query", "investigate", Access::Personal),
    ("Query", "collision", Access::Personal),
    ("Query", "dashboard", Access::Aggregate),
    ("Query", "places", Access::Aggregate),
    ("Query", "alerts", Access::Alerts),
    ("Query", "alert", Access::Alerts),
    ("Query", "watchLists", Access::WatchRead),
    ("Query", "watchList", Access::WatchRead),
    ("Query", "status", Access::Admin),
    ("Query", "me", Access::Status),
    ("Query", "grants", Access::GrantRead),
    ("Query", "investigations", Access::Investigate),
    ("Query", "investigation", Access::Investigate),
    ("Query", "auditLog", Access::Audit),
    ("Query", "auditVerify", Access::Audit),
    ("Query", "tokens", Access::Admin),
    ("Mutation", "signAlert", Access::AlertWork),
    ("Mutation", "handleAlert", Access::AlertWork),
    ("Mutation", "createWatchList", Access::WatchWrite),
    ("Mutation", "updateWatchList", Access::WatchWrite),
    ("Mutation", "deleteWatchList", Access::WatchWrite),
    ("Mutation", "revokeWatchLists", Access::WatchWrite),
    ("Mutation", "addToWatchList", Access::WatchWrite),
    ("Mutation", "removeFromWatchList", Access::WatchWrite),
    ("Mutation", "importWatchList", Access::WatchWrite),
    ("Mutation", "runAnalysis", Access::Analysis),
    ("Mutation", "mergeArchive", Access::Merge),
    ("Mutation", "requestGrant", Access::GrantRequest),
    ("Mutation", "approveGrant", Access::GrantDecide),
    ("Mutation", "refuseGrant", Access::GrantDecide),
    ("Mutation", "revokeGrant", Access::GrantRead),
    ("Mutation", "saveInvestigation", Access::Investigate),
    ("Mutation", "deleteInvestigation", Access::Investigate),
    ("Mutation", "revokeToken", Access::Admin),
    ("Subscription", "alerts", Access::Alerts),
];

/// The policy row of a field (`parent` the type it is selected on).
pub fn access(parent: &str, field: &str) -> Option<Access> {
    FIELDS
        .iter()
        .find(|(p, f, _)| *p == parent && *f == field)
        .map(|r| r.2)
}

impl Role {
    /// The role table (README, "Access control").
    pub fn may(self, a: Access) -> bool {
        use Access::*;
        match self {
            Role::Admin => true,
            Role::Device => false,
            Role::Dashboard => matches!(a, Aggregate | Status),
            Role::Batch => matches!(a, Aggregate | Status | Alerts | Analysis),
            Role::Analyst => matches!(
                a,
                Personal
                    | Aggregate
                    | Status
                    | Alerts
                    | WatchRead
                    | GrantRequest
                    | GrantRead
                    | Investigate
            ),
            Role::Officer => matches!(
                a,
                Personal
                    | Aggregate
                    | Status
                    | Alerts
                    | AlertWork
                    | WatchRead
                    | WatchWrite
                    | GrantRequest
                    | GrantRead
                    | Investigate
            ),
            Role::Commander => !matches!(a, Audit | Admin | GrantRequest),
        }
    }
}

impl Principal {
    /// The caller of a server with `auth.required = false` and of in-process
    /// tools: every region, every identifier.
    pub fn all_regions() -> Self {
        Self {
            name: "local".into(),
            holder: "local".into(),
            role: Role::Admin,
            regions: None,
            see_identifiers: true,
            token: None,
            device: None,
            grants: Vec::new(),
        }
    }

    /// A verified token's principal with its grants in force.
    pub fn from_claims(c: &crate::auth::Claims, grants: Vec<ActiveGrant>) -> Self {
        Self {
            name: c.sub.clone(),
            holder: c.holder(),
            role: c.role,
            regions: (c.role != Role::Admin).then(|| c.regions.clone()),
            see_identifiers: c.role.sees_identifiers(),
            token: Some(c.jti.clone()),
            device: c.device.clone(),
            grants,
        }
    }

    /// Someone who may see nothing (no principal in a request's data).
    pub fn nobody() -> Self {
        Self {
            name: "nobody".into(),
            holder: "nobody".into(),
            role: Role::Device,
            regions: Some(Vec::new()),
            see_identifiers: false,
            token: None,
            device: None,
            grants: Vec::new(),
        }
    }

    pub fn sees_region(&self, region: Option<&str>) -> bool {
        match (&self.regions, region) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(rs), Some(r)) => rs.iter().any(|s| region_within(r, s)),
        }
    }

    /// Whether `region` encloses one of the principal's own regions (an
    /// enclosing region's name is no secret to it; its contents are).
    pub fn encloses(&self, region: &str) -> bool {
        match &self.regions {
            None => true,
            Some(rs) => rs.iter().any(|own| region_within(own, region)),
        }
    }

    /// Whether a region is in scope for something about `about` (a
    /// sighting of it, its relations): the principal's own regions, or a
    /// grant on `about` (or on anything) covering the region.
    pub fn sees_region_about(&self, region: Option<&str>, about: &[&NodeRef]) -> bool {
        if self.sees_region(region) {
            return true;
        }
        let Some(r) = region else { return false };
        self.grants.iter().any(|g| {
            g.regions.iter().any(|gr| region_within(r, gr))
                && g.subject.as_ref().is_none_or(|s| about.contains(&s))
        })
    }

    /// Whether `node` is in scope: the regions of the communities it
    /// belongs to (a person's registrations, a house's, a vehicle's, a
    /// device's) or, for a stranger archive, an unregistered plate or a
    /// person known only from sightings (a visitor), where it was seen — in
    /// the principal's regions, or under a grant on it.
    pub fn sees(&self, engine: &Engine, store: &RocksStore, node: &NodeRef) -> graph::Result<bool> {
        if self.regions.is_none() {
            return Ok(true);
        }
        for r in regions_of(engine, store, node)? {
            if self.sees_region_about(r.as_deref(), &[node]) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `node` may be shown next to `anchor` (in its relations): in
    /// scope itself, or in the regions of a grant on `anchor` — a grant on
    /// a subject reaches its relations in the granted regions.
    pub fn sees_beside(
        &self,
        engine: &Engine,
        store: &RocksStore,
        anchor: &NodeRef,
        node: &NodeRef,
    ) -> graph::Result<bool> {
        if self.sees(engine, store, node)? {
            return Ok(true);
        }
        if !self
            .grants
            .iter()
            .any(|g| g.subject.as_ref() == Some(anchor))
        {
            return Ok(false);
        }
        Ok(regions_of(engine, store, node)?
            .iter()
            .any(|r| self.sees_region_about(r.as_deref(), &[anchor])))
    }

    /// Whether a sighting at `device` of `subjects` is in scope.
    pub fn sees_at(
        &self,
        engine: &Engine,
        store: &RocksStore,
        device: &model::DeviceId,
        subjects: &[&NodeRef],
    ) -> graph::Result<bool> {
        if self.regions.is_none() {
            return Ok(true);
        }
        let region = engine.device_place(store, device)?.map(|(_, r)| r);
        Ok(self.sees_region_about(region.as_deref(), subjects))
    }
    pub fn mask_id_number(&self, s: &str) -> String {
        if self.see_identifiers {
            return s.to_owned();
        }
        mask(s, 4, 4)
    }

    /// A birth date as the role may see it: whole, or only its year (the
    /// date and a masked identity number together leave few candidates
    /// for the number).
    pub fn mask_birth_date(&self, d: chrono::NaiveDate) -> String {
        if self.see_identifiers {
            d.to_string()
        } else {
            chrono::Datelike::year(&d).to_string()
        }
    }

    pub fn mask_phone(&self, s: &str) -> String {
        if self.see_identifiers {
            return s.to_owned();
        }
        mask(s, 3, 4)
    }
}

/// The regions a node belongs to (see [`Principal::sees`]).
pub fn regions_of(
    engine: &Engine,
    store: &RocksStore,
    node: &NodeRef,
) -> graph::Result<Vec<Option<String>>> {
    let communities: Vec<model::CommunityId> = match node {
        NodeRef::Community(c) => vec![c.clone()],
        // a registered person where registered; a person known only from
        // what was seen of them (a visitor, by the phone or identity
        // number given at a gate) where they were seen;
        // where seen; and anyone where they registered as a visitor (the
        // visit is a record of that community: its officer sees who came)
        NodeRef::Person(p) => {
            let mut cs = graph::communities_of(store, p, model::Timestamp(i64::MAX))?;
            let unregistered = cs.is_empty() && store.base(BaseKind::Person, p.as_str())?.is_none();
            let also = if unregistered {
                let mut v = visited(engine, store, node)?;
                v.extend(seen_at(engine, store, node)?);
                v
            } else {
                visited(engine, store, node)?
            };
            for c in also {
                if !cs.contains(&c) {
                    cs.push(c);
                }
            }
            cs
        }
        NodeRef::House(h) => match store.base(BaseKind::House, h.as_str())? {
            Some(BaseRecord::House(h)) => vec![h.community],
            _ => vec![],
        },
        NodeRef::Vehicle(v) => match store.base(BaseKind::Vehicle, v.as_str())? {
            Some(BaseRecord::Vehicle(v)) if v.community.is_some() => {
                v.community.into_iter().collect()
            }
            _ => seen_at(engine, store, node)?,
        },
        NodeRef::Device(d) => engine
            .device_place(store, d)?
            .map(|(c, _)| c)
            .into_iter()
            .collect(),
        NodeRef::Stranger(_) => seen_at(engine, store, node)?,
    };
    communities
        .iter()
        .map(|c| engine.community_region(store, c))
        .collect()
}

/// The communities of the houses a visitor was registered at (its
/// `visitor` relations to houses).
fn visited(
    engine: &Engine,
    store: &RocksStore,
    node: &NodeRef,
) -> graph::Result<Vec<model::CommunityId>> {
    let f = graph::EdgeFilter {
        kinds: vec![model::RelKind::Visitor],
        ..Default::default()
    };
    let mut cs = Vec::new();
    for n in engine.relations().neighbours(node, &f, 64)?.items {
        if let NodeRef::House(h) = &n.node
            && let Some(BaseRecord::House(h)) = store.base(BaseKind::House, h.as_str())?
            && !cs.contains(&h.community)
        {
            cs.push(h.community);
        }
    }
    Ok(cs)
}

/// The communities where a node was last seen (its newest 64 sightings).
fn seen_at(
    engine: &Engine,
    store: &RocksStore,
    node: &NodeRef,
) -> graph::Result<Vec<model::CommunityId>> {
    let page = graph::timeline::timeline(
        store,
        node,
        model::Timestamp(i64::MIN),
        model::Timestamp(i64::MAX),
        64,
        true,
    )?;
    let mut cs = Vec::new();
    for s in page.items {
        if let Some((c, _)) = engine.device_place(store, &s.device)?
            && !cs.contains(&c)
        {
            cs.push(c);
        }
    }
    Ok(cs)
}

/// `3209**********1234`: the first `head` and last `tail` characters kept.
pub fn mask(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Callers: who a token or its absence is, and their quota.
impl Engine {
    /// A bearer token's principal with its holder's grants in force; `Err`
    /// says why not (forged, expired, revoked), as a legitimate caller
    /// needs to hear it.
    pub fn principal_of_token(&self, token: &str) -> std::result::Result<Principal, String> {
        let c = self.auth.verify(token).map_err(|err| err.to_string())?;
        let grants = self
            .grants
            .active(self.store(), &c.holder(), now())
            .map_err(|err| {
                tracing::error!(error = %err, "reading grants");
                "the server could not read the caller's grants".to_owned()
            })?;
        Ok(Principal::from_claims(&c, grants))
    }

    /// The caller without a token: the local all-regions principal when
    /// `auth.required` is off, else `Err`.
    pub fn anonymous_principal(&self) -> std::result::Result<Principal, String> {
        if self.config.auth.required {
            Err(
                "a bearer token is required (Authorization: Bearer …, from `anju token create`)"
                    .into(),
            )
        } else {
            Ok(Principal::all_regions())
        }
    }

    /// Takes one request from the caller's quota (`auth.rate_per_minute`,
    /// per token): `Err` with the wait when it is used up. HTTP requests
    /// and every operation over a WebSocket draw on the same quota.
    pub fn take_quota(&self, p: &Principal) -> Result<(), std::time::Duration> {
        let key = p
            .token
            .clone()
            .unwrap_or_else(|| format!("anonymous:{}", p.name));
        self.limiter.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_head_and_tail() {
        assert_eq!(mask("320902198001011234", 4, 4), "3209**********1234");
        assert_eq!(mask("13812345678", 3, 4), "138****5678");
        assert_eq!(mask("123", 4, 4), "***");
    }

    #[test]
    fn regions_include_those_below() {
        let p = Principal {
            regions: Some(vec!["320900".into()]),
            ..Principal::nobody()
        };
        assert!(p.sees_region(Some("320902")));
        assert!(!p.sees_region(Some("330100")));
        assert!(!p.sees_region(None));
        assert!(Principal::all_regions().sees_region(None));
        assert!(!Principal::nobody().sees_region(Some("320902")));
    }

    #[test]
    fn grants_reach_their_regions_for_their_subject_only() {
        let x = NodeRef::parse("person:1").unwrap();
        let y = NodeRef::parse("person:2").unwrap();
        let mut p = Principal {
            regions: Some(vec!["320902".into()]),
            ..Principal::nobody()
        };
        p.grants.push(ActiveGrant {
            id: "G".into(),
            subject: Some(x.clone()),
            regions: vec!["330100".into()],
            until: model::Timestamp(i64::MAX),
        });
        assert!(p.sees_region_about(Some("330102"), &[&x]));
        assert!(!p.sees_region_about(Some("330102"), &[&y]));
        assert!(!p.sees_region_about(Some("340100"), &[&x]));
        assert!(p.sees_region_about(Some("320902001"), &[&y]));
    }

    #[test]
    fn every_role_row_is_deliberate() {
        // the dashboard sees counts only; nobody but an admin reads the audit log
        assert!(Role::Dashboard.may(Access::Aggregate));
        assert!(!Role::Dashboard.may(Access::Personal));
        assert!(!Role::Batch.may(Access::Personal));
        for r in Role::ALL {
            assert_eq!(r.may(Access::Audit), r == Role::Admin, "{r:?}");
        }
        assert!(Role::Commander.may(Access::GrantDecide));
        assert!(!Role::Officer.may(Access::GrantDecide));
        assert!(access("Query", "nonesuch").is_none());
    }
}
