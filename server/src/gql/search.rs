//! Full-text search over the registers and face search.

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct SearchHit {
    pub entity: Entity,
    pub score: f32,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Facets {
    pub kinds: Vec<Count>,
    pub tags: Vec<Count>,
    pub communities: Vec<Count>,
    /// By the regions one level below the region filter.
    pub regions: Vec<Count>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SearchExtra {
    pub total_count: usize,
    pub facets: Facets,
}

pub(crate) fn feature(s: &str, dim: usize) -> ApiResult<Vec<f32>> {
    let v: serde_json::Value = if s.trim_start().starts_with('[') {
        serde_json::from_str(s).map_err(|e| ApiError::BadInput(format!("feature: {e}")))?
    } else {
        serde_json::Value::String(s.to_owned())
    };
    ingest::parse_feature(&v, dim)
        .map(|f| f.as_slice().to_vec())
        .map_err(|e| ApiError::BadInput(format!("feature: {e}")))
}

fn feature_arg(s: &str, dim: usize) -> ApiResult<Vec<f32>> {
    feature(s, dim)
}

#[derive(Debug, Clone, SimpleObject)]
pub struct FaceHit {
    pub score: f32,
    pub entity: Entity,
}

pub fn face_hits(
    e: &crate::engine::Engine,
    principal: &crate::scope::Principal,
    hits: Vec<::search::Hit>,
) -> ApiResult<Vec<FaceHit>> {
    let store = e.store();
    let nodes: Vec<NodeRef> = hits
        .iter()
        .filter_map(|h| NodeRef::parse(&h.entity).ok())
        .collect();
    let labels = e.labels(&nodes)?;
    let mut out = Vec::new();
    for ((n, l), h) in nodes.iter().zip(labels).zip(&hits) {
        if principal.sees(e, store, n)? {
            out.push(FaceHit {
                score: h.score,
                entity: Entity::new(n, l),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Full-text search over persons, houses, vehicles, communities and
    /// devices: names (words, characters, pinyin, initials), identity
    /// numbers and phones (full, prefix, last 4, `?`/`*` masks), plates
    /// (partial, wildcards). Ranked, paged, with total and facets.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default)] kinds: Vec<String>,
        #[graphql(default)] regions: Vec<String>,
        #[graphql(default)] communities: Vec<String>,
        #[graphql(default)] tags: Vec<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<usize, SearchHit, SearchExtra, EmptyFields>> {
        let first = ctx.page_size(first)?;
        let offset = match after {
            Some(a) => a.parse::<usize>().map(|n| n + 1).map_err(|_| {
                ApiError::BadInput(format!("cursor {a:?} is not one this API returned"))
            })?,
            None => 0,
        };
        let principal = ctx.principal().clone();
        // a role that sees numbers masked may not find them by their digits
        // (a masked number and a few searches would give them back)
        if !principal.see_identifiers && !::search::number_terms(&query).is_empty() {
            return Err(ApiError::Forbidden(format!(
                "the {} role may not search by identity, phone or card numbers",
                principal.role.as_str()
            ))
            .into());
        }
        let (res, labels) = blocking(ctx, move |e| {
            // the caller's regions narrow the filter (the choke point), with
            // the regions of its "any subject" grants
            let mut regions: Vec<String> = regions;
            if let Some(own) = &principal.regions {
                let mut scope = own.clone();
                scope.extend(
                    principal
                        .grants
                        .iter()
                        .filter(|g| g.subject.is_none())
                        .flat_map(|g| g.regions.iter().cloned()),
                );
                if regions.is_empty() {
                    regions = scope;
                } else {
                    regions.retain(|r| principal.sees_region_about(Some(r), &[]));
                    if regions.is_empty() {
                        regions = vec!["--none--".into()];
                    }
                }
            }
            let paths: Vec<Vec<String>> = regions
                .iter()
                .map(|r| match model::RegionCode::new(r) {
                    Ok(c) => Ok(crate::texts::region_path(&c)),
                    Err(_) if r == "--none--" => Ok(vec![r.clone()]),
                    Err(e) => Err(ApiError::BadInput(format!("region {r:?}: {e}"))),
                })
                .collect::<ApiResult<_>>()?;
            let q = ::search::TextQuery {
                text: &query,
                kinds: &kinds,
                regions: &paths,
                communities: &communities,
                tags: &tags,
                offset,
                limit: first,
            };
            let res = e.projector.texts.index.search(&q)?;
            let nodes: Vec<NodeRef> = res
                .hits
                .iter()
                .filter_map(|h| NodeRef::parse(&h.key).ok())
                .collect();
            let labels = e.labels(&nodes)?;
            let labelled: Vec<(NodeRef, String)> = nodes.into_iter().zip(labels).collect();
            Ok((res, labelled))
        })
        .await?;
        let c = |v: &[(String, u64)]| {
            v.iter()
                .map(|(k, n)| Count {
                    key: k.clone(),
                    count: *n,
                })
                .collect()
        };
        let extra = SearchExtra {
            total_count: res.total,
            facets: Facets {
                kinds: c(&res.kinds),
                tags: c(&res.tags),
                communities: c(&res.communities),
                regions: c(&res.regions),
            },
        };
        let mut conn =
            Connection::with_additional_fields(offset > 0, offset + first < res.total, extra);
        conn.edges.extend(
            res.hits
                .iter()
                .zip(labels)
                .enumerate()
                .map(|(i, (h, (n, l)))| {
                    Edge::new(
                        offset + i,
                        SearchHit {
                            entity: Entity::new(&n, l),
                            score: h.score,
                        },
                    )
                }),
        );
        Ok(conn)
    }

    /// Faces most like a feature (base64 of little-endian f32 or a JSON
    /// array): registered persons and stranger archives (`kind`: `person`
    /// or `stranger`, default both), best first.
    async fn face_search(
        &self,
        ctx: &Context<'_>,
        feature: String,
        #[graphql(default = 10)] k: usize,
        #[graphql(default = 0.6)] min_score: f64,
        kind: Option<String>,
        #[graphql(default)] communities: Vec<String>,
    ) -> async_graphql::Result<Vec<FaceHit>> {
        let dim = ctx.engine().config.deployment.face_dim;
        let f = feature_arg(&feature, dim)?;
        let k = k.min(ctx.max_page());
        let principal = ctx.principal().clone();
        Ok(blocking(ctx, move |e| {
            let cs = (!communities.is_empty()).then_some(communities.as_slice());
            let hits =
                e.projector
                    .matcher
                    .search(&f, k, min_score as f32, kind.as_deref(), cs, None)?;
            face_hits(e, &principal, hits)
        })
        .await?)
    }
}
