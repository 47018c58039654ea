//! The GraphQL guard: the schema is reached only through [`Guarded`],
//! which every request and subscription passes through, in this order:
//!
//! 1. **handles in**: `~…` handles in the query text and variables become
//!    the identifiers they stand for (a masked caller can follow a ref);
//! 2. **aliases**: a request with more aliased fields than
//!    `server.max_aliases` is refused before it runs (a query text seen
//!    before is not parsed again: its document comes from a bounded cache
//!    shared by the schema's requests, and is checked the same way; an
//!    operation of it that once passed async-graphql's validation and ran
//!    is not put through every rule again, only the depth and complexity
//!    limits — its variables are then checked as its fields read them, a
//!    bad value failing that field rather than the whole request);
//! 3. **roles**: every root field the operation names (through fragments
//!    too) is looked up in [`scope::FIELDS`]; when one is missing or the
//!    caller's role may not use it ([`crate::auth::Role::may`]) the whole
//!    request is refused before anything runs (`FORBIDDEN`);
//! 4. **masking out**: for a role that may not see identifiers, every
//!    identity number in the response (data and errors) becomes its handle
//!    and every mobile number is masked (`138****5678`) — whatever field it
//!    came from, so a new field cannot leak one;
//! 5. **audit**: a query or mutation naming a field that returns personal
//!    data is appended to the audit log (with the records it returned)
//!    before the response leaves; when that write fails, the response is
//!    withheld. (A subscription is recorded by its resolver when it starts.)
//!
//! The guard wraps `Schema::execute` rather than being a schema extension:
//! with no extension, async-graphql resolves each field directly (an
//! extension puts every field of every answer behind a boxed call).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Data, Executor, Name, Request, Response, ServerError, Value, Variables};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::audit::NewEntry;
use super::engine::Engine;
use super::gql::Inner;
use super::lock;
use super::scope::{self, Principal};
use crate::auth::Auth;

/// Query texts whose parsed documents are kept (clients and dashboards send
/// the same few texts again and again: parsing was ~12% of the CPU of a full
/// archive request).
const PARSED_KEPT: NonZeroUsize = NonZeroUsize::new(256).expect("non-zero");
/// Longer texts are parsed each time (the cache's memory stays small).
const PARSED_MAX_LEN: usize = 16 << 10;
/// Fragments nested deeper than this at the root of an operation are
/// refused (the root fields could not all be checked); aliases deeper are
/// not counted (async-graphql refuses a document nested past 32 levels
/// before it runs).
const MAX_NESTING: usize = 64;

type Parsed = Arc<Mutex<lru::LruCache<String, Kept>>>;

/// A query text's parsed document, and its operations that passed every
/// validation rule and ran (by name; `None`: the document's only one).
#[derive(Clone)]
struct Kept {
    doc: ExecutableDocument,
    valid: Vec<Option<String>>,
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
    fields: Vec<String>,
    personal: bool,
    /// The operation passed every rule before (the fast schema runs it).
    validated: bool,
    /// The text and operation name to remember as valid once it runs.
    remember: Option<(String, Option<String>)>,
}

fn forbidden(msg: String) -> ServerError {
    let mut e = ServerError::new(msg, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "FORBIDDEN");
    e.extensions = Some(ext);
    e
}

fn principal_in(data: &Data) -> Option<&Principal> {
    data.get(&std::any::TypeId::of::<Principal>())
        .and_then(|b| b.downcast_ref::<Principal>())
}

impl Guarded {
    pub(crate) fn new(schema: Inner, fast: Inner, engine: Arc<Engine>) -> Self {
        Self {
            schema,
            fast,
            engine,
            parsed: Arc::new(Mutex::new(lru::LruCache::new(PARSED_KEPT))),
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

    /// Steps 4 and 5 around the schema's execution of a checked query or
    /// mutation.
    async fn run(&self, request: Request, checked: Checked) -> Response {
        let audit = checked.personal.then(|| {
            (
                request.query.chars().take(8_192).collect::<String>(),
                serde_json::to_value(&request.variables).unwrap_or_default(),
            )
        });
        let schema = if checked.validated {
            &self.fast
        } else {
            &self.schema
        };
        let mut resp = schema.execute(request).await;
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
            let entry = NewEntry {
                who: p.name.clone(),
                role: p.role.as_str().to_owned(),
                token: p.token.clone(),
                operation: checked.operation,
                fields: checked.fields,
                query,
                variables,
                records: records(&resp.data),
                outcome: outcome(&resp),
            };
            if let Err(why) = self.engine.record(entry).await {
                tracing::error!(error = %why, "audit log write failed; response withheld");
                let mut err =
                    ServerError::new("the request could not be recorded; try again", None);
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "UNAVAILABLE");
                err.extensions = Some(ext);
                return Response::from_errors(vec![err]);
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
    /// principal in the request's data, else the connection's.
    fn stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let checked = match self.check(&mut request, session.as_deref()) {
            Ok(c) => c,
            Err(refused) => return futures_util::stream::once(async { *refused }).boxed(),
        };
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
        let stream = self
            .schema
            .execute_stream_with_session_data(request, session.unwrap_or_default());
        let p = checked.principal;
        if p.see_identifiers {
            return stream;
        }
        let e = Arc::clone(&self.engine);
        stream
            .map(move |mut r| {
                mask_response(&e.auth, &mut r);
                r
            })
            .boxed()
    }

    /// Steps 1–3 for the principal in the request's data, else the
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
            if !see_identifiers {
                mask_response(&self.engine.auth, &mut r);
            }
            Box::new(r)
        })
    }

    /// Handles in, the document (cached), aliases, roles.
    fn check_for(
        &self,
        request: &mut Request,
        principal: Principal,
    ) -> Result<Checked, ServerError> {
        let auth = &self.engine.auth;
        request.query = decode_handles(auth, &request.query);
        if !request.variables.is_empty() {
            let vars = std::mem::take(&mut request.variables).into_value();
            request.variables =
                Variables::from_value(map_strings(vars, &mut |s| decode_handles(auth, s)));
        }
        // the text after the handles were resolved: the same text is the
        // same document
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
        let doc = request.parsed_query()?;
        let max = self.engine.config.server.max_aliases;
        let n = count_aliases(doc);
        if n > max {
            return Err(ServerError::new(
                format!("the request has {n} aliased fields; at most {max} are allowed"),
                None,
            ));
        }
        // the operation that will run (as async-graphql picks it); when
        // none can be picked the request fails there, and every
        // operation is checked here
        let chosen: Vec<(Option<&Name>, &OperationDefinition)> =
            match (&doc.operations, op_name.as_deref()) {
                (DocumentOperations::Multiple(ops), Some(name)) => ops
                    .get_key_value(name)
                    .map(|(n, op)| vec![(Some(n), &op.node)])
                    .unwrap_or_default(),
                (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                    ops.iter().map(|(n, op)| (Some(n), &op.node)).collect()
                }
                (DocumentOperations::Single(op), None) => vec![(None, &op.node)],
                (ops, _) => ops.iter().map(|(n, op)| (n, &op.node)).collect(),
            };
        let mut checked = Checked {
            principal,
            ty: chosen.first().map_or(OperationType::Query, |(_, op)| op.ty),
            operation: String::new(),
            fields: Vec::new(),
            personal: false,
            validated,
            remember,
        };
        for (name, op) in &chosen {
            // the operation's keyword, and its root type in the schema
            let (ty, parent) = match op.ty {
                OperationType::Query => ("query", "Query"),
                OperationType::Mutation => ("mutation", "Mutation"),
                OperationType::Subscription => ("subscription", "Subscription"),
            };
            if checked.operation.is_empty() {
                checked.operation = match name {
                    Some(n) => format!("{ty} {n}"),
                    None => ty.to_owned(),
                };
            }
            let mut fields = Vec::new();
            root_fields(doc, &op.selection_set.node, 0, &mut fields)?;
            for field in fields {
                // introspection (the playground's documentation) as
                // `server.introspection` says; `__typename` always
                if field == "__typename" {
                    continue;
                }
                if matches!(field, "__schema" | "__type") {
                    let s = &self.engine.config.server;
                    if s.introspection && !s.production {
                        continue;
                    }
                    return Err(forbidden("introspection is off on this server".into()));
                }
                let p = &checked.principal;
                match scope::access(parent, field) {
                    Some(a) if p.role.may(a) => {
                        checked.personal |= a.personal();
                        if !checked.fields.iter().any(|f| f == field) {
                            checked.fields.push(field.to_owned());
                        }
                    }
                    _ => {
                        return Err(forbidden(format!(
                            "the {} role may not use {field}",
                            p.role.as_str()
                        )));
                    }
                }
            }
        }
        Ok(checked)
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

/// The names of the fields at the root of a selection set, through inline
/// fragments and fragment spreads.
fn root_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    depth: usize,
    out: &mut Vec<&'d str>,
) -> Result<(), ServerError> {
    if depth > MAX_NESTING {
        return Err(ServerError::new(
            format!("fragments are nested more than {MAX_NESTING} deep at the root"),
            None,
        ));
    }
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => out.push(f.node.name.node.as_str()),
            Selection::InlineFragment(i) => {
                root_fields(doc, &i.node.selection_set.node, depth + 1, out)?;
            }
            Selection::FragmentSpread(fs) => {
                if let Some(f) = doc.fragments.get(&fs.node.fragment_name.node) {
                    root_fields(doc, &f.node.selection_set.node, depth + 1, out)?;
                }
            }
        }
    }
    Ok(())
}

fn outcome(r: &Response) -> String {
    if r.errors.is_empty() {
        return "ok".into();
    }
    let codes: Vec<String> = r
        .errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_else(|| "ERROR".into())
        })
        .collect();
    format!("errors: {}", codes.join(","))
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> usize {
        if depth > MAX_NESTING {
            return 0;
        }
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some())
                        + walk(doc, &f.node.selection_set.node, depth + 1)
                }
                Selection::InlineFragment(i) => walk(doc, &i.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(fs) => doc
                    .fragments
                    .get(&fs.node.fragment_name.node)
                    .map_or(0, |f| walk(doc, &f.node.selection_set.node, depth + 1)),
            })
            .sum()
    }
    doc.operations
        .iter()
        .map(|(_, op)| walk(doc, &op.node.selection_set.node, 0))
        .sum()
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

/// Identity numbers (18 characters, the last a digit or X, standing alone
/// between non-alphanumerics) become their handles; mobile numbers (11
/// digits from 13 to 19) are masked `138****5678`.
pub fn mask_text(auth: &Auth, s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let run = &s[start..i];
        let rb = run.as_bytes();
        let id_number = rb.len() == 18
            && rb[..17].iter().all(u8::is_ascii_digit)
            && (rb[17].is_ascii_digit() || rb[17] == b'X' || rb[17] == b'x');
        let mobile = rb.len() == 11
            && rb.iter().all(u8::is_ascii_digit)
            && rb[0] == b'1'
            && (b'3'..=b'9').contains(&rb[1]);
        if id_number {
            out.push_str(&auth.handle(run));
        } else if mobile {
            out.push_str(&super::scope::mask(run, 3, 4));
        } else {
            out.push_str(run);
        }
    }
    out
}

/// `~…` handles back to what they stand for (anything else unchanged).
pub fn decode_handles(auth: &Auth, s: &str) -> String {
    if !s.contains('~') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('~') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(tail.len(), |e| e + 1);
        let token = &tail[..end];
        match auth.unhandle(token) {
            Some(id) => out.push_str(&id),
            None => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_become_handles_and_phones_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        let s = "person:320902198001011234 张伟320902198001011234 13812345678 32090200001310000012";
        let m = mask_text(&a, s);
        assert!(!m.contains("320902198001011234"), "{m}");
        assert!(m.contains("138****5678"), "{m}");
        // a 20-digit device id is not an identity number
        assert!(m.contains("32090200001310000012"), "{m}");
        assert_eq!(
            decode_handles(&a, &m).replace("138****5678", "13812345678"),
            s
        );
        // 17 digits and X
        let x = mask_text(&a, "11010519491231002X");
        assert!(x.starts_with('~'), "{x}");
    }
}
