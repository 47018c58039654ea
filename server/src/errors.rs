//! The one mapping from errors to GraphQL `extensions.code` and HTTP
//! statuses. Internal details are logged, not returned.

/// What a caller is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The thing does not exist, or is outside the caller's scope (the two
    /// are indistinguishable by design). The message names the kind of
    /// thing only (`person not found`), never the key asked for.
    #[error("{} not found", kind_of(.0))]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not do this (said as such).
    #[error("{0}")]
    Forbidden(String),
    /// A backend (the graph database) cannot be reached; try again.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// `person` of `person:3209…`, `alert` of `alert A…`.
fn kind_of(what: &str) -> &str {
    what.split([':', ' ']).next().unwrap_or(what)
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadInput(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<graph::Error> for ApiError {
    fn from(e: graph::Error) -> Self {
        match e {
            graph::Error::Invalid(m) => Self::BadInput(m),
            graph::Error::ReadOnly => Self::Unavailable("the store is read-only".into()),
            graph::Error::Locked { .. } => Self::Unavailable("the store is locked".into()),
            graph::Error::GraphDb(m) => {
                tracing::warn!(error = %m, "graph backend");
                Self::Unavailable("the graph backend is unavailable".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<model::Error> for ApiError {
    fn from(e: model::Error) -> Self {
        Self::BadInput(e.to_string())
    }
}

impl From<search::FaceError> for ApiError {
    fn from(e: search::FaceError) -> Self {
        match e {
            // the caller's feature (a wrong dimension)
            search::FaceError::Feature(_) => Self::BadInput(e.to_string()),
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<search::TextError> for ApiError {
    fn from(e: search::TextError) -> Self {
        match e {
            // the caller's query (a wildcard too short, …)
            search::TextError::Query(_) => Self::BadInput(e.to_string()),
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(format!("{e:#}"))
    }
}

/// Gives every error of a response its `extensions.code`: an [`ApiError`]
/// its own, a model error (a malformed id) or an argument that does not
/// coerce `BAD_USER_INPUT`, and errors of the request itself (parse,
/// validation, limits) `BAD_REQUEST`. Internal
/// details are logged here and never returned.
pub fn annotate(resp: &mut async_graphql::Response) {
    for err in &mut resp.errors {
        if err
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some())
        {
            continue; // set where it was raised (the guard: FORBIDDEN, UNAVAILABLE)
        }
        let code = if let Some(api) = err.source::<ApiError>() {
            if let ApiError::Internal(detail) = api {
                tracing::error!(error = %detail, path = ?err.path, "internal error");
            }
            api.code()
        } else if err.source::<model::Error>().is_some() {
            "BAD_USER_INPUT"
        } else if err.path.is_empty() {
            "BAD_REQUEST"
        } else {
            // the engine's own failures are `ApiError::Internal`; what else
            // fails at a field is the caller's input (an argument that does
            // not coerce, a variable not given)
            "BAD_USER_INPUT"
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
