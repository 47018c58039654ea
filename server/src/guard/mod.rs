//! The GraphQL guard: the schema is reached only through [`Guarded`],
//! which every request and subscription passes through, in this order:
//!
//! 1. **size**: the operation's fields counted once its fragments are
//!    expanded (each fragment's size worked out once,
//!    [`document::expanded_size`]); past `server.max_selections` the
//!    request is refused in microseconds, before any other walk of it or
//!    async-graphql's validation (a document whose fragments spread each
//!    other twice over would otherwise take seconds of CPU);
//! 2. **aliases**: more aliased fields than `server.max_aliases` are
//!    refused (a query text seen before is not parsed again: its document
//!    comes from a bounded cache shared by the schema's requests, and is
//!    checked the same way; an operation of it that once passed
//!    async-graphql's validation and ran is not put through every rule
//!    again, only the depth and complexity limits — its variables are then
//!    checked as its fields read them);
//! 3. **roles, at every depth**: every field the operation selects
//!    (through fragments too) is looked up with the type it is selected on
//!    in [`scope::FIELDS`]: a root field must have a row, a nested field
//!    that returns personal data has one (`Alert.archive`,
//!    `Entity.archive`, …), so nesting cannot route around the root rows;
//!    when the caller's role may not use one ([`crate::auth::Role::may`])
//!    the whole request is refused before anything runs (`FORBIDDEN`);
//! 4. **handles in**: a `~…` handle is decoded only where an id is
//!    expected ([`document::ID_ARGUMENTS`]) and only as the whole value
//!    (`~…` or `kind:~…`), never inside other text;
//! 5. **masking out**: for a role that may not see identifiers, every
//!    identity number in the response (data and errors) becomes its handle
//!    and every mobile number is masked, found by shape in every string
//!    ([`mask::mask_text`]) — whatever field it came from;
//! 6. **audit**: a request naming a field that returns personal data is
//!    appended to the audit log — with the records the resolvers read (the
//!    [`Trail`]) and the ids in the response, and the outcome's codes —
//!    before the response leaves; when that write fails, the response is
//!    withheld. (A subscription is recorded by its resolver when it
//!    starts.)
//!
//! Over a WebSocket every operation is authenticated again (the token
//! verified, not revoked, not expired: [`WsSession`]) and draws on the
//! token's rate limit, as an HTTP request does.
//!
//! The guard wraps `Schema::execute` rather than being a schema extension:
//! with no extension, async-graphql resolves each field directly (an
//! extension puts every field of every answer behind a boxed call).

pub mod document;
pub mod mask;

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};
use async_graphql::{Data, Executor, Name, Request, Response, ServerError, Value};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::audit::NewEntry;
use super::engine::Engine;
use super::gql::Inner;
use super::lock;
use super::scope::{self, Principal};
use crate::auth::Auth;

pub use mask::mask_text;

/// Query texts whose parsed documents are kept (clients and dashboards send
/// the same few texts again and again: parsing was ~12% of the CPU of a full
/// archive request).
const PARSED_KEPT: NonZeroUsize = NonZeroUsize::new(256).expect("non-zero");
/// Longer texts are parsed each time (the cache's memory stays small).
const PARSED_MAX_LEN: usize = 16 << 10;

type Parsed = Arc<Mutex<lru::LruCache<String, Kept>>>;

/// A query text's parsed document, and its operations that passed every
/// validation rule and ran (by name; `None`: the document's only one).
#[derive(Clone)]
struct Kept {
    doc: ExecutableDocument,
    valid: Vec<Option<String>>,
}

/// The records a request's resolvers read (archive refs, related nodes,
/// event and alert ids), for its audit entry: noted where they are read,
/// so a query that selects no id-shaped field is recorded all the same.
#[derive(Debug, Default)]
pub struct Trail(Mutex<(Vec<String>, std::collections::HashSet<String>)>);

impl Trail {
    /// Notes a record read (once).
    pub fn note(&self, record: &str) {
        let mut g = lock(&self.0);
        if g.0.len() < super::audit::MAX_RECORDS && !g.1.contains(record) {
            g.1.insert(record.to_owned());
            g.0.push(record.to_owned());
        }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.0).0)
    }
}

/// An open WebSocket: the token it authenticated with, checked again at
/// every operation and on a timer; once it fails (revoked, expired) the
/// connection is closed (`4403`).
#[derive(Debug)]
pub struct WsSession {
    /// The bearer token (none: the local principal of an open server).
    pub token: Option<String>,
    dead: AtomicBool,
    /// Why it ended.
    why: Mutex<String>,
}

impl WsSession {
    pub fn new(token: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            token,
            dead: AtomicBool::new(false),
            why: Mutex::new(String::new()),
        })
    }

    /// The caller now, or why it is no longer one (the session ends).
    pub fn principal(&self, e: &Engine) -> Result<Principal, String> {
        if self.dead.load(Ordering::Acquire) {
            return Err(lock(&self.why).clone());
        }
        let p = match &self.token {
            Some(t) => e.principal_of_token(t),
            None => e.anonymous_principal(),
        };
        if let Err(why) = &p {
            self.end(why);
        }
        p
    }

    fn end(&self, why: &str) {
        *lock(&self.why) = why.to_owned();
        self.dead.store(true, Ordering::Release);
    }

    /// Why the session has ended, if it has.
    pub fn ended_now(&self) -> Option<String> {
        self.dead
            .load(Ordering::Acquire)
            .then(|| lock(&self.why).clone())
    }
}

/// The schema behind the guard: what the HTTP layer, the WebSocket,
/// the tests and the benchmarks execute.
#[derive(Clone)]
pub struct Guarded {
    /// Validates with every rule.
    schema: Inner,
    /// The same schema validating only the limits: for an operation seen
    /// valid (validating the archive query was ~9% of its CPU).
    fast: Inner,
    engine: Arc<Engine>,
    parsed: Parsed,
    /// The schema's types, for the role table at every depth.
    types: Arc<document::Types>,
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").finish_non_exhaustive()
    }
}

/// What the checks found out about a request before it runs.
struct Checked {
    principal: Principal,
    ty: OperationType,
    /// `query Name`, for the audit log.
    operation: String,
    /// The root fields, for the audit log.
    fields: Vec<String>,
    personal: bool,
    /// The operation passed every rule before (the fast schema runs it).
    validated: bool,
    /// The text and operation name to remember as valid once it runs.
    remember: Option<(String, Option<String>)>,
}

fn coded(msg: String, code: &str) -> ServerError {
    let mut e = ServerError::new(msg, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

fn forbidden(msg: String) -> ServerError {
    coded(msg, "FORBIDDEN")
}

fn bad_request(msg: String) -> ServerError {
    coded(msg, "BAD_REQUEST")
}

fn principal_in(data: &Data) -> Option<&Principal> {
    data.get(&std::any::TypeId::of::<Principal>())
        .and_then(|b| b.downcast_ref::<Principal>())
}

fn session_in(data: &Data) -> Option<&Arc<WsSession>> {
    data.get(&std::any::TypeId::of::<Arc<WsSession>>())
        .and_then(|b| b.downcast_ref::<Arc<WsSession>>())
}

impl Guarded {
    pub(crate) fn new(schema: Inner, fast: Inner, engine: Arc<Engine>) -> Self {
        let types = Arc::new(document::Types::from_sdl(&schema.sdl()));
        Self {
            schema,
            fast,
            engine,
            parsed: Arc::new(Mutex::new(lru::LruCache::new(PARSED_KEPT))),
            types,
        }
    }

    /// The schema's SDL.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }

    /// Runs a query or mutation for the principal in the request's data
    /// (none: nobody, who may use nothing).
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let mut request = request.into();
        match self.check(&mut request, None) {
            Ok(checked) => self.run(request, checked).await,
            Err(refused) => *refused,
        }
    }

    /// Steps 5 and 6 around the schema's execution of a checked query or
    /// mutation.
    async fn run(&self, mut request: Request, checked: Checked) -> Response {
        let audit = checked.personal.then(|| {
            (
                request.query.chars().take(8_192).collect::<String>(),
                serde_json::to_value(&request.variables).unwrap_or_default(),
            )
        });
        let trail = Arc::new(Trail::default());
        request.data.insert(Arc::clone(&trail));
        let schema = if checked.validated {
            &self.fast
        } else {
            &self.schema
        };
        let mut resp = schema.execute(request).await;
        super::errors::annotate(&mut resp);
        // data (even partial) means the validation passed and it ran
        if let Some((text, op)) = checked.remember
            && resp.data != Value::Null
            && let Some(k) = lock(&self.parsed).get_mut(&text)
            && !k.valid.contains(&op)
        {
            k.valid.push(op);
        }
        let p = checked.principal;
        if let Some((query, variables)) = audit {
            let mut recs = trail.take();
            let mut seen: std::collections::HashSet<String> = recs.iter().cloned().collect();
            for r in records(&resp.data) {
                if recs.len() < super::audit::MAX_RECORDS && seen.insert(r.clone()) {
                    recs.push(r);
                }
            }
            let entry = NewEntry {
                who: p.name.clone(),
                role: p.role.as_str().to_owned(),
                token: p.token.clone(),
                operation: checked.operation,
                fields: checked.fields,
                query,
                variables,
                records: recs,
                outcome: outcome(&resp),
            };
            if let Err(why) = self.engine.record(entry).await {
                tracing::error!(error = %why, "audit log write failed; response withheld");
                return Response::from_errors(vec![coded(
                    "the request could not be recorded; try again".into(),
                    "UNAVAILABLE",
                )]);
            }
        }
        if !p.see_identifiers {
            mask_response(&self.engine.auth, &mut resp);
        }
        resp
    }

    /// Runs a subscription for the principal in the request's data.
    pub fn execute_stream(&self, request: impl Into<Request>) -> BoxStream<'static, Response> {
        self.stream(request.into(), None)
    }

    /// Runs a subscription (or, over a WebSocket, any operation) for the
    /// principal in the request's data, else the connection's — whose
    /// token is checked again first. Each operation draws on the token's
    /// rate limit.
    fn stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let refuse = |e: ServerError| {
            futures_util::stream::once(async move { Response::from_errors(vec![e]) }).boxed()
        };
        // over a WebSocket: the connection's token, as it is now
        if principal_in(&request.data).is_none()
            && let Some(ws) = session.as_deref().and_then(session_in)
        {
            match ws.principal(&self.engine) {
                Ok(p) => {
                    request.data.insert(p);
                }
                Err(why) => return refuse(coded(why, "UNAUTHENTICATED")),
            }
        }
        let checked = match self.check(&mut request, session.as_deref()) {
            Ok(c) => c,
            Err(refused) => return futures_util::stream::once(async { *refused }).boxed(),
        };
        if let Err(wait) = self.engine.take_quota(&checked.principal) {
            return refuse(coded(
                format!(
                    "too many requests for this token; slow down (retry in {} s)",
                    wait.as_secs().max(1)
                ),
                "RATE_LIMITED",
            ));
        }
        if checked.ty != OperationType::Subscription {
            // a query or mutation over the WebSocket: audited and masked
            // as over HTTP
            if principal_in(&request.data).is_none() {
                request.data.insert(checked.principal.clone());
            }
            let me = self.clone();
            return futures_util::stream::once(async move { me.run(request, checked).await })
                .boxed();
        }
        if principal_in(&request.data).is_none() {
            request.data.insert(checked.principal.clone());
        }
        let stream = self
            .schema
            .execute_stream_with_session_data(request, session.unwrap_or_default());
        let p = checked.principal;
        let e = Arc::clone(&self.engine);
        stream
            .map(move |mut r| {
                super::errors::annotate(&mut r);
                if !p.see_identifiers {
                    mask_response(&e.auth, &mut r);
                }
                r
            })
            .boxed()
    }

    /// Steps 1–4 for the principal in the request's data, else the
    /// session's (none: nobody, who may use nothing); a refusal is the
    /// response, masked for the principal like any other.
    fn check(
        &self,
        request: &mut Request,
        session: Option<&Data>,
    ) -> Result<Checked, Box<Response>> {
        let principal = principal_in(&request.data)
            .or_else(|| session.and_then(principal_in))
            .cloned()
            .unwrap_or_else(Principal::nobody);
        let see_identifiers = principal.see_identifiers;
        self.check_for(request, principal).map_err(|e| {
            let mut r = Response::from_errors(vec![e]);
            super::errors::annotate(&mut r);
            if !see_identifiers {
                mask_response(&self.engine.auth, &mut r);
            }
            Box::new(r)
        })
    }

    /// The document (cached), its size, aliases, roles, handles.
    fn check_for(
        &self,
        request: &mut Request,
        principal: Principal,
    ) -> Result<Checked, ServerError> {
        let kept = request.query.len() <= PARSED_MAX_LEN;
        let op_name = request.operation_name.clone();
        let mut validated = false;
        let cached = if kept {
            lock(&self.parsed).get(&request.query).map(|k| {
                validated = k.valid.contains(&op_name);
                k.doc.clone()
            })
        } else {
            None
        };
        match cached {
            Some(doc) => request.set_parsed_query(doc),
            None if kept => {
                let doc = request.parsed_query()?.clone();
                lock(&self.parsed).put(
                    request.query.clone(),
                    Kept {
                        doc,
                        valid: Vec::new(),
                    },
                );
            }
            None => {}
        }
        let remember = (kept && !validated).then(|| (request.query.clone(), op_name.clone()));
        let s = &self.engine.config.server;
        let doc = request.parsed_query()?;
        let chosen = chosen(doc, op_name.as_deref());
        // 1. size, before any walk that expands fragments
        for (_, op) in &chosen {
            document::expanded_size(doc, op, s.max_selections).map_err(bad_request)?;
        }
        // 2. aliases
        let n: usize = doc
            .operations
            .iter()
            .map(|(_, op)| {
                document::expanded_size(doc, &op.node, s.max_selections)
                    .map(|_| document::count_aliases(doc, &op.node.selection_set.node))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad_request)?
            .into_iter()
            .sum();
        if n > s.max_aliases {
            return Err(bad_request(format!(
                "the request has {n} aliased fields; at most {} are allowed",
                s.max_aliases
            )));
        }
        let mut checked = Checked {
            principal,
            ty: chosen.first().map_or(OperationType::Query, |(_, op)| op.ty),
            operation: String::new(),
            fields: Vec::new(),
            personal: false,
            validated,
            remember,
        };
        // 3. roles, at every depth
        for (name, op) in &chosen {
            let (kw, root) = match op.ty {
                OperationType::Query => ("query", "Query"),
                OperationType::Mutation => ("mutation", "Mutation"),
                OperationType::Subscription => ("subscription", "Subscription"),
            };
            if checked.operation.is_empty() {
                checked.operation = match name {
                    Some(n) => format!("{kw} {n}"),
                    None => kw.to_owned(),
                };
            }
            for sel in document::selected(doc, &self.types, root, &op.selection_set.node) {
                let field = sel.field.as_str();
                // `__typename` anywhere; introspection as
                // `server.introspection` says
                if field == "__typename" {
                    continue;
                }
                if sel.root && matches!(field, "__schema" | "__type") {
                    if s.introspection && !s.production {
                        continue;
                    }
                    return Err(forbidden("introspection is off on this server".into()));
                }
                let p = &checked.principal;
                match scope::access(&sel.parent, field) {
                    Some(a) if p.role.may(a) => {
                        checked.personal |= a.personal();
                        if sel.root && !checked.fields.iter().any(|f| f == field) {
                            checked.fields.push(field.to_owned());
                        }
                    }
                    // a nested field without a row is its parent's; a
                    // field the schema does not have is left to the
                    // validation, which says what is wrong with it
                    None if !sel.root || self.types.field(&sel.parent, field).is_none() => {}
                    _ => {
                        let what = if sel.root {
                            field.to_owned()
                        } else {
                            format!("{}.{field}", sel.parent)
                        };
                        return Err(forbidden(format!(
                            "the {} role may not use {what}",
                            p.role.as_str()
                        )));
                    }
                }
            }
        }
        // 4. handles in, where an id is expected
        let has_handle = request.query.contains('~')
            || serde_json::to_string(&request.variables).is_ok_and(|v| v.contains('~'));
        if has_handle {
            let mut doc = request.parsed_query()?.clone();
            let auth = &self.engine.auth;
            let decode = |v: &str| mask::decode_whole(auth, v);
            if document::decode_ids(&mut doc, &mut request.variables, &decode) {
                request.set_parsed_query(doc);
            }
        }
        Ok(checked)
    }
}

/// The operation that will run (as async-graphql picks it); when none can
/// be picked the request fails there, and every operation is checked here.
fn chosen<'d>(
    doc: &'d ExecutableDocument,
    op_name: Option<&str>,
) -> Vec<(Option<&'d Name>, &'d OperationDefinition)> {
    match (&doc.operations, op_name) {
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .get_key_value(name)
            .map(|(n, op)| vec![(Some(n), &op.node)])
            .unwrap_or_default(),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().map(|(n, op)| (Some(n), &op.node)).collect()
        }
        (DocumentOperations::Single(op), None) => vec![(None, &op.node)],
        (ops, _) => ops.iter().map(|(n, op)| (n, &op.node)).collect(),
    }
}

impl Executor for Guarded {
    async fn execute(&self, request: Request) -> Response {
        Guarded::execute(self, request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.stream(request, session_data)
    }
}

/// `ok`, or the codes of the errors (`errors: NOT_FOUND,BAD_USER_INPUT`).
fn outcome(r: &Response) -> String {
    if r.errors.is_empty() {
        return "ok".into();
    }
    let codes: BTreeSet<String> = r
        .errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_else(|| "INTERNAL".into())
        })
        .collect();
    let codes: Vec<String> = codes.into_iter().collect();
    format!("errors: {}", codes.join(","))
}

/// The records a response names: archive refs, and event and alert ids
/// (strings under `id`, `event`, `events`, `subject`).
fn records(v: &Value) -> Vec<String> {
    fn walk(
        v: &Value,
        key: &str,
        out: &mut Vec<String>,
        seen: &mut std::collections::HashSet<String>,
    ) {
        match v {
            Value::String(s) => {
                let is_ref = model::NodeRef::parse(s).is_ok() && s.contains(':');
                if (is_ref || matches!(key, "id" | "event" | "events" | "subject" | "key"))
                    && seen.insert(s.clone())
                {
                    out.push(s.clone());
                }
            }
            Value::List(l) => l.iter().for_each(|x| walk(x, key, out, seen)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k.as_str(), out, seen)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out, &mut Default::default());
    out
}

fn map_strings(v: Value, f: &mut dyn FnMut(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::List(l) => Value::List(l.into_iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (Name::new(k), map_strings(x, f)))
                .collect(),
        ),
        other => other,
    }
}

fn mask_response(auth: &Auth, r: &mut Response) {
    let data = std::mem::take(&mut r.data);
    r.data = map_strings(data, &mut |s| mask_text(auth, s));
    for e in &mut r.errors {
        e.message = mask_text(auth, &e.message);
    }
}
