//! Walks over a parsed GraphQL document, for the guard's checks before
//! anything runs: how large the operation is once its fragments are
//! expanded (bounded first and cheaply, so a document whose fragments
//! spread each other twice over cannot make the later walks — or
//! async-graphql's validation — take seconds), its aliases, every field it
//! selects with the type it is selected on (the role table applies at
//! every depth), and the arguments where an id is expected (the only
//! places a handle is decoded).

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet, TypeKind,
};
use async_graphql::{Name, Value as ConstValue, Variables};
use async_graphql_value::Value;

/// Arguments (and input-object fields) that take an id, a `kind:key` ref
/// or a list of them: a handle there, as the whole value, is the
/// identifier it stands for. Anywhere else a handle is only text.
pub const ID_ARGUMENTS: &[&str] = &[
    "id", "ref", "subject", "subjects", "node", "nodes", "seeds", "archive", "into", "persons",
];

/// Arguments that take ids on some fields only (`from`/`to` are times
/// elsewhere).
const ID_ARGUMENTS_OF: &[(&str, &str)] = &[
    ("paths", "from"),
    ("paths", "to"),
    ("evidence", "from"),
    ("evidence", "to"),
];

/// Whether argument `arg` of field `field` takes an id.
pub fn is_id_argument(field: &str, arg: &str) -> bool {
    ID_ARGUMENTS.contains(&arg) || ID_ARGUMENTS_OF.contains(&(field, arg))
}

/// The schema's object types: for each, its fields and the named type each
/// returns (lists and non-null unwrapped).
#[derive(Debug, Default)]
pub struct Types(HashMap<String, HashMap<String, String>>);

impl Types {
    /// From the schema's SDL.
    pub fn from_sdl(sdl: &str) -> Self {
        let mut out = HashMap::new();
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return Self(out);
        };
        for def in doc.definitions {
            let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let t = t.node;
            let fields = match t.kind {
                TypeKind::Object(o) => o.fields,
                TypeKind::Interface(i) => i.fields,
                _ => continue,
            };
            let map = fields
                .into_iter()
                .map(|f| {
                    let mut ty = &f.node.ty.node;
                    while let async_graphql::parser::types::BaseType::List(inner) = &ty.base {
                        ty = inner;
                    }
                    (
                        f.node.name.node.to_string(),
                        ty.to_string().replace('!', ""),
                    )
                })
                .collect();
            out.insert(t.name.node.to_string(), map);
        }
        Self(out)
    }

    /// The named type `field` of `parent` returns.
    pub fn field(&self, parent: &str, field: &str) -> Option<&str> {
        self.0.get(parent)?.get(field).map(String::as_str)
    }

    /// Every (type, field) whose field returns `ty`.
    pub fn returning(&self, ty: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .0
            .iter()
            .flat_map(|(parent, fs)| {
                fs.iter()
                    .filter(|(_, t)| t.as_str() == ty)
                    .map(|(f, _)| (parent.clone(), f.clone()))
            })
            .collect();
        out.sort();
        out
    }
}

/// The number of fields an operation selects once every fragment is
/// expanded, counted with each fragment's size worked out once; `Err` as
/// soon as it passes `limit` (or a fragment spreads itself).
pub fn expanded_size(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    limit: usize,
) -> Result<usize, String> {
    let mut memo: HashMap<Name, usize> = HashMap::new();
    let mut open: HashSet<Name> = HashSet::new();
    size_of(doc, &op.selection_set.node, limit, &mut memo, &mut open)
}

fn size_of(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    limit: usize,
    memo: &mut HashMap<Name, usize>,
    open: &mut HashSet<Name>,
) -> Result<usize, String> {
    let too_big =
        || format!("the request selects more than {limit} fields once its fragments are expanded");
    let mut n = 0usize;
    for s in &set.items {
        let add = match &s.node {
            Selection::Field(f) => 1 + size_of(doc, &f.node.selection_set.node, limit, memo, open)?,
            Selection::InlineFragment(i) => {
                size_of(doc, &i.node.selection_set.node, limit, memo, open)?
            }
            Selection::FragmentSpread(fs) => {
                let name = &fs.node.fragment_name.node;
                match memo.get(name) {
                    Some(k) => *k,
                    None => {
                        let Some(f) = doc.fragments.get(name) else {
                            continue; // validation names it
                        };
                        if !open.insert(name.clone()) {
                            return Err(format!("fragment {name} spreads itself"));
                        }
                        let k = size_of(doc, &f.node.selection_set.node, limit, memo, open)?;
                        open.remove(name);
                        memo.insert(name.clone(), k);
                        k
                    }
                }
            }
        };
        n = n.saturating_add(add);
        if n > limit {
            return Err(too_big());
        }
    }
    Ok(n)
}

/// Aliased fields of an operation, through its fragments (call after
/// [`expanded_size`] bounded it).
pub fn count_aliases(doc: &ExecutableDocument, set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(doc, &f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count_aliases(doc, &i.node.selection_set.node),
            Selection::FragmentSpread(fs) => doc
                .fragments
                .get(&fs.node.fragment_name.node)
                .map_or(0, |f| count_aliases(doc, &f.node.selection_set.node)),
        })
        .sum()
}

/// A field the operation selects, with the type it is selected on and
/// whether that is the operation's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selected {
    pub parent: String,
    pub field: String,
    pub root: bool,
}

/// Every distinct field an operation selects at any depth, with its parent
/// type (call after [`expanded_size`] bounded it). `root` is the
/// operation's root type (`Query`, `Mutation`, `Subscription`).
pub fn selected(
    doc: &ExecutableDocument,
    types: &Types,
    root: &str,
    set: &SelectionSet,
) -> Vec<Selected> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(doc, types, root, root, set, &mut out, &mut seen);
    out
}

fn walk(
    doc: &ExecutableDocument,
    types: &Types,
    root: &str,
    parent: &str,
    set: &SelectionSet,
    out: &mut Vec<Selected>,
    seen: &mut HashSet<Selected>,
) {
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let sel = Selected {
                    parent: parent.to_owned(),
                    field: name.to_owned(),
                    root: parent == root,
                };
                if seen.insert(sel.clone()) {
                    out.push(sel);
                }
                if let Some(ty) = types.field(parent, name) {
                    walk(doc, types, root, ty, &f.node.selection_set.node, out, seen);
                }
            }
            Selection::InlineFragment(i) => {
                let on = i
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(parent, |c| c.node.on.node.as_str());
                walk(doc, types, root, on, &i.node.selection_set.node, out, seen);
            }
            Selection::FragmentSpread(fs) => {
                if let Some(f) = doc.fragments.get(&fs.node.fragment_name.node) {
                    let on = f.node.type_condition.node.on.node.as_str();
                    walk(doc, types, root, on, &f.node.selection_set.node, out, seen);
                }
            }
        }
    }
}

/// Turns whole-value handles in id arguments back into identifiers, in
/// the document's literal arguments and in the variables those arguments
/// name; `decode` answers for one string. Returns whether anything changed.
pub fn decode_ids(
    doc: &mut ExecutableDocument,
    variables: &mut Variables,
    decode: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let mut vars: HashSet<Name> = HashSet::new();
    let mut changed = false;
    let mut fragments: Vec<Name> = doc.fragments.keys().cloned().collect();
    fragments.sort();
    for name in fragments {
        if let Some(f) = doc.fragments.get_mut(&name) {
            changed |= in_set(&mut f.node.selection_set.node, decode, &mut vars);
        }
    }
    match &mut doc.operations {
        async_graphql::parser::types::DocumentOperations::Single(op) => {
            changed |= in_set(&mut op.node.selection_set.node, decode, &mut vars);
        }
        async_graphql::parser::types::DocumentOperations::Multiple(ops) => {
            for op in ops.values_mut() {
                changed |= in_set(&mut op.node.selection_set.node, decode, &mut vars);
            }
        }
    }
    for v in vars {
        if let Some(value) = variables.get_mut(&v) {
            changed |= in_const(value, decode, true);
        }
    }
    changed
}

fn in_set(
    set: &mut SelectionSet,
    decode: &dyn Fn(&str) -> Option<String>,
    vars: &mut HashSet<Name>,
) -> bool {
    let mut changed = false;
    for s in &mut set.items {
        match &mut s.node {
            Selection::Field(f) => {
                let field = f.node.name.node.clone();
                for (name, value) in &mut f.node.arguments {
                    let id = is_id_argument(&field, &name.node);
                    changed |= in_value(&mut value.node, decode, vars, id);
                }
                changed |= in_set(&mut f.node.selection_set.node, decode, vars);
            }
            Selection::InlineFragment(i) => {
                changed |= in_set(&mut i.node.selection_set.node, decode, vars);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    changed
}

/// `id`: the value is in an id position (its strings are ids; an input
/// object's fields are looked at by their own names).
fn in_value(
    v: &mut Value,
    decode: &dyn Fn(&str) -> Option<String>,
    vars: &mut HashSet<Name>,
    id: bool,
) -> bool {
    match v {
        Value::Variable(name) => {
            if id {
                vars.insert(name.clone());
            }
            false
        }
        Value::String(s) if id => match decode(s) {
            Some(d) => {
                *s = d;
                true
            }
            None => false,
        },
        Value::List(l) => l
            .iter_mut()
            .fold(false, |c, x| in_value(x, decode, vars, id) | c),
        Value::Object(o) => o.iter_mut().fold(false, |c, (k, x)| {
            in_value(x, decode, vars, ID_ARGUMENTS.contains(&k.as_str())) | c
        }),
        _ => false,
    }
}

/// A variable's value in an id position: its strings (in lists too); an
/// input object's fields by their own names.
fn in_const(v: &mut ConstValue, decode: &dyn Fn(&str) -> Option<String>, id: bool) -> bool {
    match v {
        ConstValue::String(s) if id => match decode(s) {
            Some(d) => {
                *s = d;
                true
            }
            None => false,
        },
        ConstValue::List(l) => l.iter_mut().fold(false, |c, x| in_const(x, decode, id) | c),
        ConstValue::Object(o) => o.iter_mut().fold(false, |c, (k, x)| {
            in_const(x, decode, ID_ARGUMENTS.contains(&k.as_str())) | c
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    fn op(d: &ExecutableDocument) -> &OperationDefinition {
        &d.operations.iter().next().unwrap().1.node
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        // each fragment spreads the next twice: 2^30 fields once expanded
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..30 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        q.push_str("fragment F30 on Query { me { name } }\n");
        let d = doc(&q);
        // (expanded, this would not finish: each fragment is sized once)
        let e = expanded_size(&d, op(&d), 10_000).unwrap_err();
        assert!(e.contains("more than 10000"), "{e}");
        let d = doc("{ me { name role } a: me { name } }");
        assert_eq!(expanded_size(&d, op(&d), 10).unwrap(), 5);
        let d = doc("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert!(
            expanded_size(&d, op(&d), 10)
                .unwrap_err()
                .contains("spreads itself")
        );
    }

    #[test]
    fn fields_are_found_at_every_depth_with_their_types() {
        let types = Types::from_sdl(&crate::gql::sdl());
        let d = doc(
            "{ alerts { edges { node { ...A } } } } fragment A on Alert { archive { person { name } } }",
        );
        let s = selected(&d, &types, "Query", &op(&d).selection_set.node);
        let has = |p: &str, f: &str| s.iter().any(|x| x.parent == p && x.field == f);
        assert!(has("Query", "alerts"));
        assert!(has("Alert", "archive"));
        assert!(has("Archive", "person"));
        assert!(has("PersonProfile", "name"));
        assert!(s.iter().filter(|x| x.root).count() == 1);
    }

    #[test]
    fn handles_are_decoded_only_in_id_arguments() {
        let decode = |s: &str| (s == "~h").then(|| "ID".to_owned());
        let mut d = doc(
            r#"query($v: String!, $t: String!) { person(id: "~h") { ref } a: archive(ref: $v) { ref } s: saveInvestigation(input: {title: "~h", subjects: ["~h", "x~h"]}) { id } t: dashboard(from: $t, to: "~h") { persons } p: paths(from: "~h", to: "y") { nodes { ref } } }"#,
        );
        let mut vars = Variables::from_json(serde_json::json!({"v": "~h", "t": "~h"}));
        assert!(decode_ids(&mut d, &mut vars, &decode));
        let text = format!("{:?}", d.operations);
        assert_eq!(text.matches("\"ID\"").count(), 3, "{text}");
        assert!(text.contains("\"x~h\""), "{text}");
        assert!(text.contains("title"), "{text}");
        assert_eq!(
            vars.get(&Name::new("v")),
            Some(&ConstValue::String("ID".into()))
        );
        // a variable used where a time is expected stays as sent
        assert_eq!(
            vars.get(&Name::new("t")),
            Some(&ConstValue::String("~h".into()))
        );
    }
}
