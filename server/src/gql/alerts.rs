//! Alerts: the book, signing and handling, and the live subscription.

use super::*;
use async_graphql::Subscription;

#[derive(Debug, Clone, SimpleObject)]
pub struct TotalCount {
    pub total_count: usize,
}

/// Notes an alert read, and whom it is about, for the audit entry.
pub(crate) fn note_alert(ctx: &Context<'_>, a: &book::Alert) {
    ctx.note(&a.id);
    if let Some(s) = &a.subject {
        ctx.note(s);
    }
}

/// An alert the caller may see, in `region` (and below) if given, of one of
/// `kinds` if any (`device_alarm` also matches `device_alarm:smoke`).
fn alert_matches(
    a: &book::Alert,
    principal: &Principal,
    region: Option<&str>,
    kinds: &[String],
) -> bool {
    principal.sees_region(a.region.as_deref())
        && region.is_none_or(|r| {
            a.region
                .as_deref()
                .is_some_and(|ar| crate::engine::region_within(ar, r))
        })
        && (kinds.is_empty()
            || kinds
                .iter()
                .any(|k| a.kind == *k || a.kind.starts_with(&format!("{k}:"))))
}

async fn transition(
    ctx: &Context<'_>,
    id: String,
    to: AlertStatus,
    disposition: Option<Disposition>,
    note: Option<String>,
) -> ApiResult<book::Alert> {
    let principal = ctx.principal().clone();
    blocking(ctx, move |e| {
        let store = e.store();
        match book::get(store, &id)? {
            Some(a) if principal.sees_region(a.region.as_deref()) => {}
            _ => return Err(ApiError::NotFound(format!("alert {id}"))),
        }
        book::transition(store, &id, to, disposition, &principal.name, note, now()).map_err(|err| {
            match err {
                book::TransitionError::NotFound => ApiError::NotFound(format!("alert {id}")),
                book::TransitionError::Invalid(m) => ApiError::Conflict(m),
                book::TransitionError::Store(s) => s.into(),
            }
        })
    })
    .await
}

#[derive(Debug, Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New alerts as they are raised, for a region (default: all in scope)
    /// and kinds (default: all).
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        #[graphql(default)] kinds: Vec<String>,
    ) -> async_graphql::Result<impl Stream<Item = Alert> + use<>> {
        use futures_util::StreamExt as _;
        // the guard has checked the role, taken the quota and masks the
        // stream (`server::guard`)
        let principal = ctx.principal().clone();
        // the subscription is a personal read: recorded before it starts
        let entry = crate::audit::NewEntry {
            who: principal.name.clone(),
            role: principal.role.as_str().to_owned(),
            token: principal.token.clone(),
            operation: "subscription".into(),
            fields: vec!["alerts".into()],
            query: "subscription alerts".into(),
            variables: serde_json::json!({"region": region, "kinds": kinds}),
            records: vec![],
            outcome: "subscribed".into(),
        };
        ctx.engine().record(entry).await.map_err(|err| {
            tracing::error!(error = %err, "audit log write failed; subscription refused");
            ApiError::Unavailable("the request could not be recorded; try again".into())
        })?;
        let rx = ctx.engine().alerts_tx.subscribe();
        Ok(
            tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |a| {
                let keep = a
                    .ok()
                    .filter(|a| alert_matches(a, &principal, region.as_deref(), &kinds))
                    .map(Alert);
                std::future::ready(keep)
            }),
        )
    }
}

#[derive(Debug)]
pub struct Alert(pub AlertRec);

#[derive(Debug, Clone, SimpleObject)]
pub struct AlertStep {
    pub at: String,
    pub action: String,
    pub by: String,
    pub note: Option<String>,
}

#[Object]
impl Alert {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn status(&self) -> book::AlertStatus {
        self.0.status
    }
    async fn disposition(&self) -> Option<book::Disposition> {
        self.0.disposition
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// `kind:key` of the subject.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    async fn community(&self) -> Option<&str> {
        self.0.community.as_deref()
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    async fn device(&self) -> Option<&str> {
        self.0.device.as_deref()
    }
    async fn time(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.time)
    }
    async fn raised(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.raised)
    }
    async fn score(&self) -> Option<f32> {
        self.0.score
    }
    /// Event ids.
    async fn evidence(&self) -> &[String] {
        &self.0.evidence
    }
    async fn watch_list(&self) -> Option<&str> {
        self.0.watch_list.as_deref()
    }
    /// Findings of this situation while the alert was open (1: raised
    /// once; a key person going out alone day after day is one alert).
    async fn occurrences(&self) -> u32 {
        self.0.occurrences
    }
    /// When the latest occurrence happened (none: only the first).
    async fn last_time(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.last.map(|t| fmt_time(&ctx.engine().clock, t))
    }
    async fn history(&self, ctx: &Context<'_>) -> Vec<AlertStep> {
        let clock = ctx.engine().clock;
        self.0
            .history
            .iter()
            .map(|h| AlertStep {
                at: fmt_time(&clock, h.at),
                action: h.action.clone(),
                by: h.by.clone(),
                note: h.note.clone(),
            })
            .collect()
    }
    /// The subject's archive (none when out of the caller's scope).
    async fn archive(&self, ctx: &Context<'_>) -> Option<Archive> {
        let n = NodeRef::parse(self.0.subject.as_deref()?).ok()?;
        super::archive(ctx, n).await.ok()
    }
}

#[derive(Debug, Default)]
pub struct AlertsQuery;

#[Object]
impl AlertsQuery {
    /// Alerts newest first, filtered by region, kind, status and time.
    #[allow(clippy::too_many_arguments)]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        region: Option<String>,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default)] statuses: Vec<AlertStatus>,
        from: Option<String>,
        to: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Alert, TotalCount, EmptyFields>> {
        let first = ctx.page_size(first)?;
        let clock = ctx.engine().clock;
        let from = parse_time_opt(from.as_deref(), &clock)?;
        let to = parse_time_opt(to.as_deref(), &clock)?;
        let principal = ctx.principal().clone();
        let (page, total, more) = blocking(ctx, move |e| {
            let store = e.store();
            let mut page = Vec::new();
            let mut total = 0usize;
            let mut passed_cursor = after.is_none();
            book::scan(store, None, |a| {
                if from.is_some_and(|f| a.time < f) {
                    return false;
                }
                let keep = to.is_none_or(|t| a.time < t)
                    && alert_matches(&a, &principal, region.as_deref(), &kinds)
                    && (statuses.is_empty() || statuses.contains(&a.status));
                if keep {
                    total += 1;
                    if passed_cursor && page.len() <= first {
                        page.push(a.clone());
                    }
                }
                if after.as_deref() == Some(a.id.as_str()) {
                    passed_cursor = true;
                }
                true
            })?;
            let more = page.len() > first;
            page.truncate(first);
            Ok((page, total, more))
        })
        .await?;
        let mut conn =
            Connection::with_additional_fields(false, more, TotalCount { total_count: total });
        for a in &page {
            note_alert(ctx, a);
        }
        conn.edges
            .extend(page.into_iter().map(|a| Edge::new(a.id.clone(), Alert(a))));
        Ok(conn)
    }

    async fn alert(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Alert> {
        let principal = ctx.principal().clone();
        let a = blocking(ctx, move |e| match book::get(e.store(), &id)? {
            Some(a) if principal.sees_region(a.region.as_deref()) => Ok(a),
            _ => Err(ApiError::NotFound(format!("alert {id}"))),
        })
        .await?;
        note_alert(ctx, &a);
        Ok(Alert(a))
    }
}

#[derive(Debug, Default)]
pub struct AlertsMutation;

#[Object]
impl AlertsMutation {
    /// Signs an alert (new → signed): an officer has taken it.
    async fn sign_alert(
        &self,
        ctx: &Context<'_>,
        id: String,
        note: Option<String>,
    ) -> async_graphql::Result<Alert> {
        Ok(Alert(
            transition(ctx, id, AlertStatus::Signed, None, note).await?,
        ))
    }

    /// Handles an alert with a disposition (new or signed → handled).
    async fn handle_alert(
        &self,
        ctx: &Context<'_>,
        id: String,
        disposition: Disposition,
        note: Option<String>,
    ) -> async_graphql::Result<Alert> {
        Ok(Alert(
            transition(ctx, id, AlertStatus::Handled, Some(disposition), note).await?,
        ))
    }
}
