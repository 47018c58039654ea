//! Order-preserving key encodings for RocksDB.
//!
//! A key is a tuple of parts; encoded keys compare (bytewise, as RocksDB
//! does) exactly as the tuples compare part by part. Strings are escaped
//! (`00` → `00 FF`) and terminated (`00 01`), so a prefix of one string never
//! sorts inside another part; integers are big-endian, signed ones with the
//! sign bit flipped. Decoding is the exact inverse.

/// Builds an encoded key.
#[derive(Debug, Default, Clone)]
pub struct KeyBuf(Vec<u8>);

impl KeyBuf {
    pub fn new() -> Self {
        Self(Vec::with_capacity(48))
    }

    pub fn tag(mut self, t: u8) -> Self {
        self.0.push(t);
        self
    }

    pub fn str(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self.0.extend_from_slice(&[0, 1]);
        self
    }

    pub fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    pub fn i64(self, n: i64) -> Self {
        self.u64((n as u64) ^ (1 << 63))
    }

    /// A graph node: its kind's tag, then its key.
    pub fn node(self, n: &model::NodeRef) -> Self {
        let tag = model::NodeKind::ALL
            .iter()
            .position(|k| *k == n.kind())
            .unwrap_or(0) as u8;
        self.tag(tag).str(n.key())
    }

    /// A relation kind: its position in [`model::RelKind::ALL`].
    pub fn rel(self, k: model::RelKind) -> Self {
        let tag = model::RelKind::ALL
            .iter()
            .position(|x| *x == k)
            .unwrap_or(0) as u8;
        self.tag(tag)
    }

    /// Appends already-encoded bytes (a nested key) verbatim, as the last part.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Reads an encoded key part by part.
#[derive(Debug, Clone)]
pub struct KeyReader<'a> {
    rest: &'a [u8],
}

/// A key did not decode as the expected tuple.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed key: {0}")]
pub struct KeyError(&'static str);

impl<'a> KeyReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub fn tag(&mut self) -> Result<u8, KeyError> {
        let (&t, rest) = self.rest.split_first().ok_or(KeyError("missing tag"))?;
        self.rest = rest;
        Ok(t)
    }

    pub fn str(&mut self) -> Result<String, KeyError> {
        // runs between NULs are copied whole (a NUL is an escape or the end)
        let mut out = Vec::new();
        let mut rest = self.rest;
        loop {
            let Some(z) = rest.iter().position(|&b| b == 0) else {
                return Err(KeyError("unterminated string"));
            };
            out.extend_from_slice(&rest[..z]);
            match rest.get(z + 1) {
                Some(1) => {
                    rest = &rest[z + 2..];
                    break;
                }
                Some(0xFF) => {
                    out.push(0);
                    rest = &rest[z + 2..];
                }
                Some(_) => return Err(KeyError("bad escape in string")),
                None => return Err(KeyError("unterminated string")),
            }
        }
        self.rest = rest;
        String::from_utf8(out).map_err(|_| KeyError("string is not UTF-8"))
    }

    pub fn u64(&mut self) -> Result<u64, KeyError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<8>()
            .ok_or(KeyError("short integer"))?;
        self.rest = rest;
        Ok(u64::from_be_bytes(*head))
    }

    pub fn i64(&mut self) -> Result<i64, KeyError> {
        Ok((self.u64()? ^ (1 << 63)) as i64)
    }

    pub fn node(&mut self) -> Result<model::NodeRef, KeyError> {
        let tag = self.tag()?;
        let kind = *model::NodeKind::ALL
            .get(tag as usize)
            .ok_or(KeyError("unknown node kind"))?;
        let key = self.str()?;
        model::NodeRef::from_parts(kind, &key).map_err(|_| KeyError("invalid node key"))
    }

    /// A relation kind written by [`KeyBuf::rel`].
    pub fn rel(&mut self) -> Result<model::RelKind, KeyError> {
        let tag = self.tag()?;
        model::RelKind::ALL
            .get(tag as usize)
            .copied()
            .ok_or(KeyError("unknown relation kind"))
    }

    /// What is left (a nested key appended with [`KeyBuf::raw`]).
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn enc(t: &(String, i64, u64, String)) -> Vec<u8> {
        KeyBuf::new()
            .str(&t.0)
            .i64(t.1)
            .u64(t.2)
            .str(&t.3)
            .into_bytes()
    }

    fn any_string() -> impl Strategy<Value = String> {
        // includes NULs and bytes next to the escape codes
        prop::collection::vec(
            prop_oneof![Just('\0'), Just('\u{1}'), Just('\u{ff}'), any::<char>()],
            0..6,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn any_tuple() -> impl Strategy<Value = (String, i64, u64, String)> {
        (any_string(), any::<i64>(), any::<u64>(), any_string())
    }

    proptest! {
        #[test]
        fn roundtrip(t in any_tuple()) {
            let bytes = enc(&t);
            let mut r = KeyReader::new(&bytes);
            prop_assert_eq!(r.str().unwrap(), t.0.clone());
            prop_assert_eq!(r.i64().unwrap(), t.1);
            prop_assert_eq!(r.u64().unwrap(), t.2);
            prop_assert_eq!(r.str().unwrap(), t.3.clone());
            prop_assert!(r.is_empty());
        }

        #[test]
        fn order_is_preserved(a in any_tuple(), b in any_tuple()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn string_prefix_scan_finds_exactly_the_string(a in any_string(), b in any_string(), n in any::<u64>()) {
            let prefix = KeyBuf::new().str(&a).into_bytes();
            let key = KeyBuf::new().str(&b).u64(n).into_bytes();
            prop_assert_eq!(key.starts_with(&prefix), a == b);
        }
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert!(KeyReader::new(b"abc").str().is_err());
        assert!(KeyReader::new(&[0, 7]).str().is_err());
        assert!(KeyReader::new(&[b'a', 0]).str().is_err());
        assert!(KeyReader::new(&[b'a', 0, 0xFF]).str().is_err());
        assert!(KeyReader::new(&[1, 2]).u64().is_err());
    }
}
