//! The GraphQL guard: one extension every request and subscription passes
//! through, in this order:
//!
//! 1. **handles in**: `~…` handles in the query text and variables become
//!    the identifiers they stand for (a masked caller can follow a ref);
//! 2. **aliases**: a request with more aliased fields than
//!    `server.max_aliases` is refused before it runs (a query text seen
//!    before is not parsed again: its document comes from a bounded cache
//!    shared by the schema's requests, and is checked the same way);
//! 3. **roles**: every root field is looked up in [`scope::FIELDS`] and run
//!    only when the caller's role may ([`crate::auth::Role::may`]); a field without a
//!    row is refused for everyone;
//! 4. **masking out**: for a role that may not see identifiers, every
//!    identity number in the response (data and errors) becomes its handle
//!    and every mobile number is masked (`138****5678`) — whatever field it
//!    came from, so a new field cannot leak one;
//! 5. **audit**: a request that ran a field returning personal data is
//!    appended to the audit log (with the records it returned) before the
//!    response leaves; when that write fails, the response is withheld.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextResolve, NextSubscribe, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Name, Request, Response, ServerError, ServerResult, Value, Variables};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::audit::NewEntry;
use super::engine::{Engine, now};
use super::lock;
use super::scope::{self, Principal};
use crate::auth::Auth;

/// Query texts whose parsed documents are kept (clients and dashboards send
/// the same few texts again and again: parsing was ~12% of the CPU of a full
/// archive request).
const PARSED_KEPT: NonZeroUsize = NonZeroUsize::new(256).expect("non-zero");
/// Longer texts are parsed each time (the cache's memory stays small).
const PARSED_MAX_LEN: usize = 16 << 10;

type Parsed = Arc<Mutex<lru::LruCache<String, ExecutableDocument>>>;

/// The extension's factory (one [`GuardExt`] per request), holding what the
/// requests share: the parsed documents of recent query texts.
#[derive(Debug, Clone)]
pub struct Guard {
    parsed: Parsed,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            parsed: Arc::new(Mutex::new(lru::LruCache::new(PARSED_KEPT))),
        }
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExt {
            seen: Mutex::default(),
            parsed: Arc::clone(&self.parsed),
        })
    }
}

#[derive(Debug, Default)]
struct Seen {
    query: String,
    variables: serde_json::Value,
    operation: String,
    fields: Vec<String>,
    personal: bool,
}

#[derive(Debug)]
pub struct GuardExt {
    seen: Mutex<Seen>,
    parsed: Parsed,
}

fn principal<'a>(ctx: &'a ExtensionContext<'_>) -> std::borrow::Cow<'a, Principal> {
    match ctx.data_opt::<Principal>() {
        Some(p) => std::borrow::Cow::Borrowed(p),
        None => std::borrow::Cow::Owned(Principal::nobody()),
    }
}

fn engine<'a>(ctx: &'a ExtensionContext<'_>) -> Option<&'a Arc<Engine>> {
    ctx.data_opt::<Arc<Engine>>()
}

fn forbidden(msg: String) -> ServerError {
    let mut e = ServerError::new(msg, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "FORBIDDEN");
    e.extensions = Some(ext);
    e
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExt {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(e) = engine(ctx) {
            let auth = &e.auth;
            request.query = decode_handles(auth, &request.query);
            let vars = std::mem::take(&mut request.variables).into_value();
            request.variables =
                Variables::from_value(map_strings(vars, &mut |s| decode_handles(auth, s)));
        }
        {
            let mut seen = lock(&self.seen);
            seen.query = request.query.chars().take(8_192).collect();
            seen.variables = serde_json::to_value(&request.variables).unwrap_or_default();
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // the text after the handles were resolved: the same text is the
        // same document
        let kept = query.len() <= PARSED_MAX_LEN;
        let cached = if kept {
            lock(&self.parsed).get(query).cloned()
        } else {
            None
        };
        let doc = match cached {
            Some(doc) => doc,
            None => {
                let doc = next.run(ctx, query, variables).await?;
                if kept {
                    lock(&self.parsed).put(query.to_owned(), doc.clone());
                }
                doc
            }
        };
        let max = engine(ctx).map_or(32, |e| e.config.server.max_aliases);
        let n = count_aliases(&doc);
        if n > max {
            return Err(ServerError::new(
                format!("the request has {n} aliased fields; at most {max} are allowed"),
                None,
            ));
        }
        let mut seen = lock(&self.seen);
        if let Some((name, op)) = doc.operations.iter().next() {
            let ty = match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            seen.operation = match name {
                Some(n) => format!("{ty} {n}"),
                None => ty.to_owned(),
            };
        }
        Ok(doc)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() {
            let p = principal(ctx);
            let field = info.name;
            match scope::access(info.parent_type, field) {
                Some(a) if p.role.may(a) => {
                    let mut seen = lock(&self.seen);
                    seen.fields.push(field.to_owned());
                    seen.personal |= a.personal();
                }
                _ => {
                    return Err(forbidden(format!(
                        "the {} role may not use {field}",
                        p.role.as_str()
                    )));
                }
            }
        }
        next.run(ctx, info).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut resp = next.run(ctx, operation_name).await;
        let p = principal(ctx).into_owned();
        let Some(e) = engine(ctx) else { return resp };
        let entry = {
            let seen = lock(&self.seen);
            seen.personal.then(|| NewEntry {
                who: p.name.clone(),
                role: p.role.as_str().to_owned(),
                token: p.token.clone(),
                operation: seen.operation.clone(),
                fields: seen.fields.clone(),
                query: seen.query.clone(),
                variables: seen.variables.clone(),
                records: records(&resp.data),
                outcome: outcome(&resp),
            })
        };
        if let Some(entry) = entry {
            let e2 = Arc::clone(e);
            let written = tokio::task::spawn_blocking(move || {
                let store = e2.store();
                e2.audit.append(store, entry, now())
            })
            .await;
            let failure = match written {
                Ok(Ok(_)) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(err) => Some(err.to_string()),
            };
            if let Some(why) = failure {
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
            mask_response(&e.auth, &mut resp);
        }
        resp
    }

    /// Subscriptions: the guard is created before the request is attached,
    /// so only a principal of the connection (WebSocket `connection_init`)
    /// is known here; it masks the stream for it. The resolver checks the
    /// role, masks for the request's principal and writes the audit entry
    /// (it is the first place that knows both).
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let p = ctx.data_opt::<Principal>().cloned();
        let e = engine(ctx).cloned();
        let stream = next.run(ctx, stream);
        match (p, e) {
            (Some(p), Some(e)) if !p.see_identifiers => stream
                .map(move |mut r| {
                    mask_response(&e.auth, &mut r);
                    r
                })
                .boxed(),
            _ => stream,
        }
    }
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
        if depth > 64 {
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
