//! Grants, investigations and tokens: writes.

use super::*;

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
