//! GA/T 1400 credentials and HTTP Digest (RFC 7616, as the standard's
//! platforms authenticate each other and their devices): a credential per
//! device or per platform, kept in the auth directory
//! (`viid-credentials.json`, mode 0600, written whole and renamed into
//! place; the server reads it again when it changes), managed by an
//! administrator with `anju viid`.
//!
//! A credential stores the digests of its secret (`HA1` = H(id:realm:secret)
//! for MD5 and SHA-256), never the secret. The server's nonces are its own
//! MACs of their issue time, so it keeps no table of them; a nonce is good
//! for [`NONCE_SECS`] and each client counter (`nc`) of it is accepted
//! once. A client that sends no `qop` may use a nonce once.
//!
//! [`respond`] is the client's side, for the tests and for a node that
//! registers with an upper platform.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{AuthError, io, lock, prf};

/// How long a nonce is good for (then the client is told `stale=true`).
pub const NONCE_SECS: i64 = 300;
/// Nonces whose counters are remembered, at most (the oldest forgotten: a
/// forgotten nonce is refused as used).
const NONCES_KEPT: std::num::NonZeroUsize = std::num::NonZeroUsize::new(65_536).expect("non-zero");

/// What a credential stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum CredentialKind {
    /// One device (a camera, a gate): its own objects only, `DeviceID` =
    /// the credential's id.
    Device,
    /// A lower platform (a vendor's 视图库, an estate's gateway): objects
    /// of registered devices in its regions.
    Platform,
}

/// One GA/T 1400 credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The user name: the device's or platform's 20-digit id.
    pub id: String,
    pub kind: CredentialKind,
    /// A platform's regions (region codes; a region includes those below).
    #[serde(default)]
    pub regions: Vec<String>,
    /// H(id:realm:secret), hex, MD5 and SHA-256.
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// Unix seconds.
    pub created: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    credentials: Vec<Credential>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn md5(s: &str) -> String {
    hex(&md5::Md5::digest(s.as_bytes()))
}

fn sha256(s: &str) -> String {
    hex(&sha2::Sha256::digest(s.as_bytes()))
}

/// The hash of an algorithm name (`MD5`, `SHA-256`, their `-sess` forms
/// are not offered).
fn hash_of(alg: &str) -> Option<fn(&str) -> String> {
    match alg.to_ascii_uppercase().as_str() {
        "" | "MD5" => Some(md5),
        "SHA-256" => Some(sha256),
        _ => None,
    }
}

/// Equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The parameters of a `Digest` header (`WWW-Authenticate` or
/// `Authorization`), names lower-cased.
pub fn params(header: &str) -> Option<HashMap<String, String>> {
    let rest = header.trim().strip_prefix("Digest")?.trim_start();
    let mut out = HashMap::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = rest[k0..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            if !key.is_empty() {
                out.insert(key, String::new());
            }
            continue;
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = rest[i..].chars().next()?;
                v.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            v
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            rest[v0..i].trim().to_owned()
        };
        out.insert(key, value);
    }
    Some(out)
}

/// Why a request's Digest credentials were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Digest …` at all.
    Missing,
    /// A good response to a nonce that has expired: ask again
    /// (`stale=true`).
    Stale,
    /// Anything else (unknown user, wrong response, reused counter, …):
    /// the reason is for the log, the caller is only challenged.
    Bad(&'static str),
}

/// A file's modification time and length: when they change, it is read
/// again.
type FileStamp = (SystemTime, u64);

/// The credentials of a deployment and the nonce counters seen.
pub struct Credentials {
    path: PathBuf,
    nonce_key: [u8; 32],
    realm: String,
    kept: Mutex<(Option<FileStamp>, HashMap<String, Credential>)>,
    counters: Mutex<lru::LruCache<String, u64>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("path", &self.path)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub(super) fn new(dir: &Path, secret: &[u8], realm: &str) -> Self {
        Self {
            path: dir.join("viid-credentials.json"),
            nonce_key: prf(secret, &[b"anju viid nonce"]),
            realm: realm.to_owned(),
            kept: Mutex::new((None, HashMap::new())),
            counters: Mutex::new(lru::LruCache::new(NONCES_KEPT)),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn read(&self) -> Result<File, AuthError> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| AuthError::Invalid(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    fn write(&self, f: &File) -> Result<(), AuthError> {
        let tmp = self.path.with_extension("json.tmp");
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut file = o.open(&tmp).map_err(io(&tmp))?;
        let body = serde_json::to_vec_pretty(f).unwrap_or_default();
        file.write_all(&body).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Every credential (as written now).
    pub fn list(&self) -> Result<Vec<Credential>, AuthError> {
        Ok(self.read()?.credentials)
    }

    /// Adds (or replaces) the credential of `id` with `secret`.
    pub fn put(
        &self,
        id: &str,
        kind: CredentialKind,
        regions: Vec<String>,
        secret: &str,
    ) -> Result<Credential, AuthError> {
        if id.is_empty() || id.contains(':') || id.chars().any(char::is_control) {
            return Err(AuthError::Invalid(format!(
                "credential id {id:?}: letters and digits, no ':'"
            )));
        }
        if secret.chars().count() < 12 {
            return Err(AuthError::Invalid(
                "a credential's secret has at least 12 characters".into(),
            ));
        }
        match kind {
            CredentialKind::Platform if regions.is_empty() => {
                return Err(AuthError::Invalid(
                    "a platform credential names its regions (--region)".into(),
                ));
            }
            CredentialKind::Device if !regions.is_empty() => {
                return Err(AuthError::Invalid(
                    "a device credential is for its own device; give no --region".into(),
                ));
            }
            _ => {}
        }
        for r in &regions {
            model::RegionCode::new(r)
                .map_err(|e| AuthError::Invalid(format!("region {r:?}: {e}")))?;
        }
        let a1 = format!("{id}:{}:{secret}", self.realm);
        let c = Credential {
            id: id.to_owned(),
            kind,
            regions,
            ha1_md5: md5(&a1),
            ha1_sha256: sha256(&a1),
            created: chrono::Utc::now().timestamp(),
        };
        let mut f = self.read()?;
        f.credentials.retain(|x| x.id != id);
        f.credentials.push(c.clone());
        self.write(&f)?;
        self.forget();
        Ok(c)
    }

    /// Removes a credential; false when there was none.
    pub fn remove(&self, id: &str) -> Result<bool, AuthError> {
        let mut f = self.read()?;
        let n = f.credentials.len();
        f.credentials.retain(|x| x.id != id);
        if f.credentials.len() == n {
            return Ok(false);
        }
        self.write(&f)?;
        self.forget();
        Ok(true)
    }

    /// Drops the kept credentials: the next request reads the file (a
    /// change by this process is seen even within the file system's
    /// timestamp granularity; another process's by its time and length).
    fn forget(&self) {
        lock(&self.kept).0 = None;
    }

    /// The credential of `id` as the file says now (read again when it
    /// changed).
    fn get(&self, id: &str) -> Result<Option<Credential>, AuthError> {
        let mtime = match std::fs::metadata(&self.path) {
            Ok(m) => m.modified().ok().map(|t| (t, m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&self.path)(e)),
        };
        let mut g = lock(&self.kept);
        if g.0 != mtime || mtime.is_none() {
            g.1 = self
                .read()?
                .credentials
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect();
            g.0 = mtime;
        }
        Ok(g.1.get(id).cloned())
    }

    /// A fresh nonce (its issue time under the server's MAC).
    pub fn nonce(&self) -> String {
        self.nonce_at(chrono::Utc::now().timestamp())
    }

    fn nonce_at(&self, t: i64) -> String {
        let mac = prf(&self.nonce_key, &[&t.to_be_bytes()]);
        format!("{t:x}-{}", hex(&mac[..12]))
    }

    /// The challenge to send with a 401.
    pub fn challenge(&self, stale: bool) -> String {
        format!(
            "Digest realm=\"{}\", qop=\"auth\", nonce=\"{}\", algorithm=MD5{}",
            self.realm,
            self.nonce(),
            if stale { ", stale=true" } else { "" }
        )
    }

    /// The credential a request's `Authorization: Digest …` proves, for
    /// `method` and `uri` (the request target as sent).
    pub fn verify(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
    ) -> Result<Credential, Refusal> {
        let Some(p) = authorization.and_then(params) else {
            return Err(Refusal::Missing);
        };
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        let (user, nonce, response) = (get("username"), get("nonce"), get("response"));
        if user.is_empty() || nonce.is_empty() || response.is_empty() {
            return Err(Refusal::Bad("incomplete Digest credentials"));
        }
        if get("realm") != self.realm {
            return Err(Refusal::Bad("another realm"));
        }
        // the URI the client signed is the one requested
        let signed = get("uri");
        if signed != uri && signed.split('?').next() != uri.split('?').next() {
            return Err(Refusal::Bad("the signed uri is not the request's"));
        }
        let hash = hash_of(get("algorithm")).ok_or(Refusal::Bad("an algorithm not offered"))?;
        let c = self
            .get(user)
            .map_err(|_| Refusal::Bad("the credentials file could not be read"))?
            .ok_or(Refusal::Bad("no such credential"))?;
        let ha1 = if get("algorithm").eq_ignore_ascii_case("SHA-256") {
            &c.ha1_sha256
        } else {
            &c.ha1_md5
        };
        let ha2 = hash(&format!("{method}:{signed}"));
        let qop = get("qop");
        let expect = match qop {
            "auth" => hash(&format!(
                "{ha1}:{nonce}:{}:{}:auth:{ha2}",
                get("nc"),
                get("cnonce")
            )),
            "" => hash(&format!("{ha1}:{nonce}:{ha2}")),
            _ => return Err(Refusal::Bad("a qop not offered")),
        };
        if !same(&expect, &response.to_ascii_lowercase()) {
            return Err(Refusal::Bad("wrong response (secret)"));
        }
        // the nonce is ours and fresh
        let t = nonce
            .split_once('-')
            .and_then(|(t, _)| i64::from_str_radix(t, 16).ok())
            .ok_or(Refusal::Bad("not a nonce of this server"))?;
        if !same(&self.nonce_at(t), nonce) {
            return Err(Refusal::Bad("not a nonce of this server"));
        }
        let now = chrono::Utc::now().timestamp();
        if t > now + 5 {
            return Err(Refusal::Bad("not a nonce of this server"));
        }
        if now - t > NONCE_SECS {
            return Err(Refusal::Stale);
        }
        // each counter once (no qop: the nonce once)
        let nc = if qop.is_empty() {
            1
        } else {
            u64::from_str_radix(get("nc"), 16).map_err(|_| Refusal::Bad("a bad nonce count"))?
        };
        let mut seen = lock(&self.counters);
        let key = format!("{}\0{nonce}", c.id);
        match seen.get(&key) {
            Some(last) if nc <= *last => return Err(Refusal::Bad("a nonce count used before")),
            _ => {}
        }
        seen.put(key, nc);
        Ok(c)
    }
}

/// The client's `Authorization` header for a `WWW-Authenticate: Digest …`
/// challenge: `nc` is the count of requests made with this nonce (from 1).
pub fn respond(
    challenge: &str,
    user: &str,
    secret: &str,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> Option<String> {
    let p = params(challenge)?;
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let (realm, nonce) = (get("realm"), get("nonce"));
    let alg = if get("algorithm").is_empty() {
        "MD5"
    } else {
        get("algorithm")
    };
    let hash = hash_of(alg)?;
    let ha1 = hash(&format!("{user}:{realm}:{secret}"));
    let ha2 = hash(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let response = hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    Some(format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> (tempfile::TempDir, Credentials) {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials::new(dir.path(), &[7u8; 32], "anju");
        (dir, c)
    }

    #[test]
    fn a_response_to_the_challenge_proves_the_credential_once_per_count() {
        let (_d, c) = creds();
        c.put(
            "32090200001310000012",
            CredentialKind::Device,
            vec![],
            "correct horse battery",
        )
        .unwrap();
        let uri = "/VIID/Faces";
        let ch = c.challenge(false);
        let auth = respond(
            &ch,
            "32090200001310000012",
            "correct horse battery",
            "POST",
            uri,
            1,
            "abc",
        )
        .unwrap();
        let got = c.verify(Some(&auth), "POST", uri).unwrap();
        assert_eq!(got.id, "32090200001310000012");
        // the same count again is a replay
        assert_eq!(
            c.verify(Some(&auth), "POST", uri),
            Err(Refusal::Bad("a nonce count used before"))
        );
        // the next count is fine
        let auth2 = respond(
            &ch,
            "32090200001310000012",
            "correct horse battery",
            "POST",
            uri,
            2,
            "abd",
        )
        .unwrap();
        assert!(c.verify(Some(&auth2), "POST", uri).is_ok());
        // a wrong secret, another uri, another method, an unknown user
        let bad = respond(
            &ch,
            "32090200001310000012",
            "wrong horse battery",
            "POST",
            uri,
            3,
            "x",
        )
        .unwrap();
        assert_eq!(
            c.verify(Some(&bad), "POST", uri),
            Err(Refusal::Bad("wrong response (secret)"))
        );
        let other = respond(
            &ch,
            "32090200001310000012",
            "correct horse battery",
            "POST",
            "/VIID/MotorVehicles",
            4,
            "x",
        )
        .unwrap();
        assert!(c.verify(Some(&other), "POST", uri).is_err());
        let get = respond(
            &ch,
            "32090200001310000012",
            "correct horse battery",
            "GET",
            uri,
            5,
            "x",
        )
        .unwrap();
        assert!(c.verify(Some(&get), "POST", uri).is_err());
        let who = respond(
            &ch,
            "99999999999999999999",
            "correct horse battery",
            "POST",
            uri,
            1,
            "x",
        )
        .unwrap();
        assert_eq!(
            c.verify(Some(&who), "POST", uri),
            Err(Refusal::Bad("no such credential"))
        );
        assert_eq!(c.verify(None, "POST", uri), Err(Refusal::Missing));
        // SHA-256 with the same nonce
        let sha = respond(
            &ch.replace("MD5", "SHA-256"),
            "32090200001310000012",
            "correct horse battery",
            "POST",
            uri,
            9,
            "y",
        )
        .unwrap();
        assert!(c.verify(Some(&sha), "POST", uri).is_ok());
        // removed: refused at once
        assert!(c.remove("32090200001310000012").unwrap());
        let auth3 = respond(
            &ch,
            "32090200001310000012",
            "correct horse battery",
            "POST",
            uri,
            10,
            "abe",
        )
        .unwrap();
        assert_eq!(
            c.verify(Some(&auth3), "POST", uri),
            Err(Refusal::Bad("no such credential"))
        );
    }

    #[test]
    fn forged_and_old_nonces_are_refused() {
        let (_d, c) = creds();
        c.put(
            "P1",
            CredentialKind::Platform,
            vec!["320902".into()],
            "platform secret 1",
        )
        .unwrap();
        let uri = "/VIID/System/Register";
        let forged = "Digest realm=\"anju\", qop=\"auth\", nonce=\"1-000000000000000000000000\"";
        let a = respond(forged, "P1", "platform secret 1", "POST", uri, 1, "c").unwrap();
        assert_eq!(
            c.verify(Some(&a), "POST", uri),
            Err(Refusal::Bad("not a nonce of this server"))
        );
        let old = format!(
            "Digest realm=\"anju\", qop=\"auth\", nonce=\"{}\"",
            c.nonce_at(chrono::Utc::now().timestamp() - NONCE_SECS - 10)
        );
        let a = respond(&old, "P1", "platform secret 1", "POST", uri, 1, "c").unwrap();
        assert_eq!(c.verify(Some(&a), "POST", uri), Err(Refusal::Stale));
        // rules of what a credential is
        assert!(
            c.put("P2", CredentialKind::Platform, vec![], "platform secret 2")
                .is_err()
        );
        assert!(
            c.put("D1", CredentialKind::Device, vec![], "short")
                .is_err()
        );
        assert!(
            c.put(
                "D1",
                CredentialKind::Device,
                vec!["320902".into()],
                "long enough secret"
            )
            .is_err()
        );
    }

    #[test]
    fn header_parameters_are_read_quoted_or_not() {
        let p = params(r#"Digest username="a b", realm=anju, nonce="x\"y", qop=auth, nc=00000001"#)
            .unwrap();
        assert_eq!(p["username"], "a b");
        assert_eq!(p["realm"], "anju");
        assert_eq!(p["nonce"], "x\"y");
        assert_eq!(p["nc"], "00000001");
        assert!(params("Bearer x").is_none());
    }
}
