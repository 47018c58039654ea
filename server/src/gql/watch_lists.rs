//! Watch lists (布控): faces, plates and persons the real-time rules
//! watch for, per region.

use super::*;

#[derive(Debug, InputObject)]
pub struct WatchListInput {
    pub name: String,
    #[graphql(default)]
    pub reason: String,
    /// Region code watched (empty: all).
    #[graphql(default)]
    pub region: String,
    pub threshold: Option<f32>,
}

#[derive(Debug, InputObject)]
pub struct WatchFaceInput {
    pub label: String,
    /// Base64 of little-endian f32, or a JSON array of numbers.
    pub feature: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct ImportProblem {
    pub line: usize,
    pub field: String,
    pub why: String,
}

#[derive(Debug, SimpleObject)]
pub struct ImportResult {
    pub added: usize,
    pub rejected: Vec<ImportProblem>,
    pub list: WatchList,
}

impl std::fmt::Debug for WatchList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WatchList").field(&self.0.id).finish()
    }
}

fn visible_list(ctx: &Context<'_>, id: &str) -> ApiResult<WatchRec> {
    let p = ctx.principal();
    ctx.engine()
        .watch_lists()
        .into_iter()
        .find(|l| l.id == id && (p.regions.is_none() || p.sees_region(Some(&l.region))))
        .ok_or_else(|| ApiError::NotFound(format!("watch list {id}")))
}

fn check_list(ctx: &Context<'_>, l: &WatchRec) -> ApiResult<()> {
    if l.name.trim().is_empty() {
        return Err(ApiError::BadInput("name: must not be empty".into()));
    }
    if !l.region.is_empty() {
        model::RegionCode::new(&l.region)
            .map_err(|e| ApiError::BadInput(format!("region: {e}")))?;
    }
    if l.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::BadInput(
            "threshold: must be between 0 and 1".into(),
        ));
    }
    let p = ctx.principal();
    if p.regions.is_some() && (l.region.is_empty() || !p.sees_region(Some(&l.region))) {
        return Err(ApiError::BadInput(
            "region: must be within the caller's regions".into(),
        ));
    }
    Ok(())
}

async fn save_list(ctx: &Context<'_>, list: WatchRec) -> ApiResult<WatchRec> {
    blocking(ctx, move |e| {
        e.put_watch_list(list.clone())?;
        Ok(list)
    })
    .await
}

fn person_ref(p: &str) -> ApiResult<String> {
    let n = if p.contains(':') {
        node(p)?
    } else {
        NodeRef::Person(model::PersonId::new(p)?)
    };
    if !n.is_individual() {
        return Err(ApiError::BadInput(format!(
            "{p:?} is not a person or stranger archive"
        )));
    }
    Ok(n.to_string())
}

fn add_person(list: &mut WatchRec, p: &str) -> ApiResult<()> {
    let r = person_ref(p)?;
    if !list.persons.contains(&r) {
        list.persons.push(r);
    }
    Ok(())
}

fn add_plate(list: &mut WatchRec, p: &str) -> ApiResult<()> {
    let p = model::Plate::new(p)?.as_str().to_owned();
    if !list.plates.contains(&p) {
        list.plates.push(p);
    }
    Ok(())
}

fn add_face(list: &mut WatchRec, label: String, f: &str, dim: usize) -> ApiResult<()> {
    let feature = feature(f, dim)?;
    let n = list.faces.len();
    list.faces.push(WatchFaceRec {
        id: format!("{}-f{n}", list.id),
        label,
        feature,
    });
    Ok(())
}

pub struct WatchList(pub WatchRec);

#[derive(Debug, Clone, SimpleObject)]
pub struct WatchFace {
    pub id: String,
    pub label: String,
    pub dim: usize,
}

#[Object]
impl WatchList {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn region(&self) -> &str {
        &self.0.region
    }
    async fn threshold(&self) -> Option<f32> {
        self.0.threshold
    }
    async fn created(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.created)
    }
    async fn updated(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.updated)
    }
    /// `person:…` / `stranger:…` refs.
    async fn persons(&self) -> &[String] {
        &self.0.persons
    }
    async fn plates(&self) -> &[String] {
        &self.0.plates
    }
    async fn faces(&self) -> Vec<WatchFace> {
        self.0
            .faces
            .iter()
            .map(|f| WatchFace {
                id: f.id.clone(),
                label: f.label.clone(),
                dim: f.feature.len(),
            })
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct WatchListsQuery;

#[Object]
impl WatchListsQuery {
    async fn watch_lists(&self, ctx: &Context<'_>) -> Vec<WatchList> {
        let p = ctx.principal();
        ctx.engine()
            .watch_lists()
            .into_iter()
            .filter(|l| {
                l.region.is_empty() && p.regions.is_none() || p.sees_region(Some(&l.region))
            })
            .map(WatchList)
            .collect()
    }

    async fn watch_list(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<WatchList> {
        Ok(WatchList(visible_list(ctx, &id)?))
    }
}

#[derive(Debug, Default)]
pub struct WatchListsMutation;

#[Object]
impl WatchListsMutation {
    async fn create_watch_list(
        &self,
        ctx: &Context<'_>,
        input: WatchListInput,
    ) -> async_graphql::Result<WatchList> {
        let t = now();
        let list = WatchRec {
            id: book::new_watch_id(t),
            name: input.name,
            reason: input.reason,
            region: input.region,
            threshold: input.threshold,
            created: t,
            updated: t,
            persons: vec![],
            plates: vec![],
            faces: vec![],
        };
        check_list(ctx, &list)?;
        Ok(WatchList(save_list(ctx, list).await?))
    }

    async fn update_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: WatchListInput,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        list.name = input.name;
        list.reason = input.reason;
        list.region = input.region;
        list.threshold = input.threshold;
        check_list(ctx, &list)?;
        Ok(WatchList(save_list(ctx, list).await?))
    }

    async fn delete_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<bool> {
        visible_list(ctx, &id)?;
        Ok(blocking(ctx, move |e| Ok(e.delete_watch_list(&id)?)).await?)
    }

    /// Revokes several lists at once (bulk 撤控); returns how many were.
    async fn revoke_watch_lists(
        &self,
        ctx: &Context<'_>,
        ids: Vec<String>,
    ) -> async_graphql::Result<usize> {
        for id in &ids {
            visible_list(ctx, id)?;
        }
        Ok(blocking(ctx, move |e| {
            let mut n = 0;
            for id in &ids {
                n += usize::from(e.delete_watch_list(id)?);
            }
            Ok(n)
        })
        .await?)
    }

    /// Adds persons (`person:…`/`stranger:…` refs or person ids), plates
    /// and faces to a list.
    async fn add_to_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] persons: Vec<String>,
        #[graphql(default)] plates: Vec<String>,
        #[graphql(default)] faces: Vec<WatchFaceInput>,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        let dim = ctx.engine().config.deployment.face_dim;
        for p in persons {
            add_person(&mut list, &p)?;
        }
        for p in plates {
            add_plate(&mut list, &p)?;
        }
        for f in faces {
            add_face(&mut list, f.label, &f.feature, dim)?;
        }
        list.updated = now();
        Ok(WatchList(save_list(ctx, list).await?))
    }

    /// Removes persons, plates and faces (by face id) from a list.
    async fn remove_from_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default)] persons: Vec<String>,
        #[graphql(default)] plates: Vec<String>,
        #[graphql(default)] faces: Vec<String>,
    ) -> async_graphql::Result<WatchList> {
        let mut list = visible_list(ctx, &id)?;
        let persons: Vec<String> = persons
            .iter()
            .map(|p| person_ref(p))
            .collect::<ApiResult<_>>()?;
        let plates: Vec<String> = plates
            .iter()
            .map(|p| model::Plate::new(p).map(|p| p.as_str().to_owned()))
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)?;
        list.persons.retain(|p| !persons.contains(p));
        list.plates.retain(|p| !plates.contains(p));
        list.faces.retain(|f| !faces.contains(&f.id));
        list.updated = now();
        Ok(WatchList(save_list(ctx, list).await?))
    }

    /// Bulk import into a list from CSV lines `type,value[,label]` (type:
    /// `person`, `plate` or `face`; a face's value is its base64 feature).
    /// Good lines are added; bad ones are reported by line and field.
    async fn import_watch_list(
        &self,
        ctx: &Context<'_>,
        id: String,
        csv: String,
    ) -> async_graphql::Result<ImportResult> {
        let mut list = visible_list(ctx, &id)?;
        let dim = ctx.engine().config.deployment.face_dim;
        let mut rejected = Vec::new();
        let mut added = 0;
        for (i, line) in csv.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("type,")) {
                continue;
            }
            let cols: Vec<&str> = line.splitn(3, ',').map(str::trim).collect();
            let value = cols.get(1).copied().unwrap_or_default();
            let res = match cols[0] {
                "person" => add_person(&mut list, value),
                "plate" => add_plate(&mut list, value),
                "face" => add_face(
                    &mut list,
                    cols.get(2).copied().unwrap_or_default().to_owned(),
                    value,
                    dim,
                ),
                other => Err(ApiError::BadInput(format!(
                    "type {other:?} is not person, plate or face"
                ))),
            };
            match res {
                Ok(()) => added += 1,
                Err(err) => rejected.push(ImportProblem {
                    line: line_no,
                    field: if matches!(cols[0], "person" | "plate" | "face") {
                        "value".into()
                    } else {
                        "type".into()
                    },
                    why: err.to_string(),
                }),
            }
        }
        list.updated = now();
        let list = save_list(ctx, list).await?;
        Ok(ImportResult {
            added,
            rejected,
            list: WatchList(list),
        })
    }
}
