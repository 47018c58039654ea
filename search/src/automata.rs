//! Whole-term matches over the index's term dictionary without regular
//! expressions: a strict prefix and a glob (`*` any run of characters, `?`
//! exactly one), as byte automata walked over tantivy's FST.
//!
//! tantivy's `RegexQuery` compiles its pattern into a DFA on every query,
//! and a Unicode `.` makes that DFA large: 0.5–1.5 ms a pattern, more than
//! the rest of a search. These automata cost nothing to build. They read
//! UTF-8 bytes: a literal character can only match its own bytes (UTF-8 is
//! self-synchronising), `*` runs over any bytes, `?` takes one lead byte
//! and its continuation bytes.

use std::sync::Arc;

use tantivy::query::{AutomatonWeight, EnableScoring, Query, Weight};
use tantivy::schema::Field;
use tantivy_fst::Automaton;

/// Terms that start with `prefix` and are longer than it.
#[derive(Debug, Clone)]
pub(crate) struct StrictPrefix(Vec<u8>);

impl StrictPrefix {
    pub(crate) fn new(prefix: &str) -> Self {
        Self(prefix.as_bytes().to_vec())
    }
}

impl Automaton for StrictPrefix {
    /// Bytes of the prefix matched; `len + 1` once past it.
    type State = Option<usize>;

    fn start(&self) -> Self::State {
        Some(0)
    }

    fn is_match(&self, state: &Self::State) -> bool {
        *state == Some(self.0.len() + 1)
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn will_always_match(&self, state: &Self::State) -> bool {
        self.is_match(state)
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let k = (*state)?;
        match self.0.get(k) {
            Some(&b) => (b == byte).then_some(k + 1),
            None => Some(self.0.len() + 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Byte(u8),
    /// `*`: any run of bytes (of whole characters, in a whole term).
    Star,
    /// `?`: one character.
    AnyChar,
}

/// A whole-term glob: `*` any run of characters, `?` exactly one, anything
/// else itself. At most [`Glob::MAX`] bytes and wildcards.
#[derive(Debug, Clone)]
pub(crate) struct Glob(Vec<Tok>);

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

impl Glob {
    /// The longest pattern (in bytes and wildcards): the state is a set of
    /// positions in 128 bits.
    pub(crate) const MAX: usize = 63;

    /// `None` when the pattern is longer than [`Glob::MAX`].
    pub(crate) fn new(pattern: &str) -> Option<Self> {
        let mut toks = Vec::new();
        for c in pattern.chars() {
            match c {
                '*' => {
                    // `**` is `*`
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star)
                    }
                }
                '?' => toks.push(Tok::AnyChar),
                c => toks.extend(c.to_string().bytes().map(Tok::Byte)),
            }
        }
        (toks.len() <= Self::MAX).then_some(Self(toks))
    }

    // bit i: before token i (i = len: the end); bit 64 + i: inside the
    // character of `?` token i (its lead byte read)
    fn closure(&self, mut s: u128) -> u128 {
        for (i, t) in self.0.iter().enumerate() {
            let at = s & (1 << i) != 0;
            let inside = s & (1 << (64 + i)) != 0;
            if (at && *t == Tok::Star) || inside {
                s |= 1 << (i + 1);
            }
        }
        s
    }
}

impl Automaton for Glob {
    type State = u128;

    fn start(&self) -> u128 {
        self.closure(1)
    }

    fn is_match(&self, s: &u128) -> bool {
        s & (1 << self.0.len()) != 0
    }

    fn can_match(&self, s: &u128) -> bool {
        *s != 0
    }

    fn accept(&self, s: &u128, byte: u8) -> u128 {
        let mut next = 0u128;
        for (i, t) in self.0.iter().enumerate() {
            if s & (1 << i) != 0 {
                match *t {
                    Tok::Byte(b) if b == byte => next |= 1 << (i + 1),
                    Tok::Byte(_) => {}
                    Tok::Star => next |= 1 << i,
                    Tok::AnyChar if !is_continuation(byte) => next |= 1 << (64 + i),
                    Tok::AnyChar => {}
                }
            }
            if s & (1 << (64 + i)) != 0 && is_continuation(byte) {
                next |= 1 << (64 + i);
            }
        }
        self.closure(next)
    }
}

/// The documents with a term of `field` that `automaton` matches (a
/// constant score, as tantivy's `RegexQuery`).
#[derive(Debug, Clone)]
pub(crate) struct AutomatonQuery<A> {
    field: Field,
    automaton: Arc<A>,
}

impl<A> AutomatonQuery<A> {
    pub(crate) fn new(field: Field, automaton: A) -> Self {
        Self {
            field,
            automaton: Arc::new(automaton),
        }
    }
}

impl<A> Query for AutomatonQuery<A>
where
    A: Automaton + Clone + std::fmt::Debug + Send + Sync + 'static,
    A::State: Clone,
{
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<A>::new(
            self.field,
            self.automaton.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run<A: Automaton>(a: &A, s: &str) -> bool {
        let mut st = a.start();
        for b in s.bytes() {
            if !a.can_match(&st) {
                return false;
            }
            st = a.accept(&st, b);
        }
        a.is_match(&st)
    }

    /// The meaning, by characters.
    fn glob_model(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|k| glob_model(rest, &s[k..])),
            Some(('?', rest)) => !s.is_empty() && glob_model(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && glob_model(rest, &s[1..]),
        }
    }

    #[test]
    fn globs_read_as_documented() {
        let g = |p: &str| Glob::new(p).unwrap();
        assert!(run(&g("浙B*2345"), "浙B12345"));
        assert!(run(&g("浙B*2345"), "浙B2345"));
        assert!(!run(&g("浙B*2345"), "浙A12345"));
        assert!(run(&g("138????5678"), "13812345678"));
        assert!(!run(&g("138????5678"), "1381234567"));
        assert!(run(&g("浙?12345"), "浙苏12345"));
        assert!(run(&g("?B12345"), "浙B12345"));
        assert!(!run(&g("??B12345"), "浙B12345"));
        assert!(Glob::new(&"x".repeat(64)).is_none());
        let p = StrictPrefix::new("zhang");
        assert!(run(&p, "zhangwei"));
        assert!(!run(&p, "zhang"));
        assert!(!run(&p, "zhan"));
        assert!(!run(&p, "zhenwei"));
    }

    proptest! {
        #[test]
        fn glob_matches_its_model(
            p in proptest::collection::vec(prop::sample::select(vec!['*', '?', 'a', 'b', '浙', '苏']), 0..8),
            s in proptest::collection::vec(prop::sample::select(vec!['a', 'b', '浙', '苏', 'é']), 0..8),
        ) {
            let pat: String = p.iter().collect();
            let text: String = s.iter().collect();
            prop_assert_eq!(run(&Glob::new(&pat).unwrap(), &text), glob_model(&p, &s), "{} on {}", pat, text);
        }
    }
}
