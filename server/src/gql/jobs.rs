//! The platform's status and the analysis job on demand.

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct ModelReport {
    pub model: String,
    /// Findings as of the last instant judged.
    pub active: usize,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub retired: u64,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct AnalysisReport {
    pub days: usize,
    pub at: Option<String>,
    pub sightings_read: u64,
    pub seconds: f64,
    pub models: Vec<ModelReport>,
    pub alerts_raised: usize,
}

#[derive(Debug, Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// What the server holds and how far projection is behind.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Json> {
        let e = Arc::clone(ctx.engine());
        Ok(async_graphql::Json(
            blocking(ctx, move |_| Ok(crate::http::status_json(&e))).await?,
        ))
    }
}

#[derive(Debug, Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Runs the analysis job now (the models given, default all) over the
    /// days since the last job: tags kept, alerts raised.
    async fn run_analysis(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] models: Vec<String>,
    ) -> async_graphql::Result<AnalysisReport> {
        let models = crate::analysis_job::models(&models).map_err(ApiError::BadInput)?;
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let r = e.run_analysis(&models)?;
            // the job is the deployment's; a regional caller learns only
            // what it raised in its regions (no deployment-wide counts)
            if principal.regions.is_some() {
                return Ok(AnalysisReport {
                    days: r.days,
                    at: r.at.map(|t| fmt_time(&e.clock, t)),
                    sightings_read: 0,
                    seconds: r.secs,
                    models: Vec::new(),
                    alerts_raised: r
                        .raised
                        .iter()
                        .filter(|a| principal.sees_region(a.region.as_deref()))
                        .count(),
                });
            }
            Ok(AnalysisReport {
                days: r.days,
                at: r.at.map(|t| fmt_time(&e.clock, t)),
                sightings_read: r.read,
                seconds: r.secs,
                models: models
                    .iter()
                    .map(|m| {
                        let ap = r.applied.get(*m).cloned().unwrap_or_default();
                        ModelReport {
                            model: (*m).to_owned(),
                            active: r.active.get(m).copied().unwrap_or(0),
                            new: ap.new,
                            changed: ap.changed,
                            unchanged: ap.unchanged,
                            retired: ap.retired,
                        }
                    })
                    .collect(),
                alerts_raised: r.raised.len(),
            })
        })
        .await?)
    }
}
