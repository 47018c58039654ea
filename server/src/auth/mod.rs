//! Who is calling: roles, signed expiring bearer tokens (`anju token`),
//! their revocation, and the opaque handles that stand in for identity
//! numbers when a role may not see them.
//!
//! Everything lives in one directory (`auth.dir`, default `auth/` in the
//! store's directory) so that `anju token` works while `anju serve` holds
//! the store: `secret` (the HS256 key, created on first use, mode 0600),
//! `issued.jsonl` (what was issued, for `anju token list`) and `revoked`
//! (one token id per line; the server re-reads it when it changes), and
//! the GA/T 1400 credentials ([`digest`]).
//!
//! Each token names its holder twice: `sub`, the name the audit log shows
//! (free text, set with `--name`), and `uid`, the holder's identity, which
//! only the issuer sets (a new random one per token unless `anju token
//! create --holder` names an existing holder's). Grants belong to the
//! `uid`, so a token issued under someone else's name inherits nothing.

pub mod digest;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::lock;

/// What a principal is for (`../shared/DESIGN.md`, access control).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum Role {
    /// A community officer: own station or community.
    Officer,
    /// An analyst: a district or city; identifiers masked.
    Analyst,
    /// A commander: a province (or city); approves cross-region grants.
    Commander,
    /// A dashboard: statistics only, identifiers always masked.
    Dashboard,
    /// A batch job: alerts and analysis runs in its region.
    Batch,
    /// An administrator: all regions, tokens and the audit log.
    Admin,
    /// A device or gateway: intake only, for the one device it names.
    Device,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Officer,
        Role::Analyst,
        Role::Commander,
        Role::Dashboard,
        Role::Batch,
        Role::Admin,
        Role::Device,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Analyst => "analyst",
            Role::Commander => "commander",
            Role::Dashboard => "dashboard",
            Role::Batch => "batch",
            Role::Admin => "admin",
            Role::Device => "device",
        }
    }

    /// May see identity numbers and phones unmasked.
    pub fn sees_identifiers(self) -> bool {
        matches!(self, Role::Officer | Role::Commander | Role::Admin)
    }

    /// May post records to the intake (`/ingest`).
    pub fn may_ingest(self) -> bool {
        matches!(self, Role::Batch | Role::Admin | Role::Device)
    }
}

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who: a person's or a job's name, as the audit log shows it.
    pub sub: String,
    pub role: Role,
    /// Region codes in scope (a region includes those below it); empty for
    /// an administrator (all regions).
    #[serde(default)]
    pub regions: Vec<String>,
    /// A device token's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The token's id (for revocation).
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The holder's identity (grants belong to it); tokens issued before
    /// it existed have none and stand alone (`jti:<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl Claims {
    /// Who holds the token, as grants know them.
    pub fn holder(&self) -> String {
        self.uid
            .clone()
            .unwrap_or_else(|| format!("jti:{}", self.jti))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The caller's credentials are refused (said as such, with no detail
    /// on which part failed beyond what helps a legitimate caller).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error("auth directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_owned(),
        source,
    }
}

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn prf(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

const HANDLE_IV: usize = 10;

/// Tokens whose signature and claims were checked, kept so that a client's
/// next request skips the decode (~half of the token check's CPU, which was
/// ~10% of an archive request's over HTTP); expiry and revocation are still
/// checked on every use.
const VERIFIED_KEPT: std::num::NonZeroUsize = std::num::NonZeroUsize::new(1024).expect("non-zero");

/// The key, the registers and the revocation list of one deployment.
pub struct Auth {
    dir: PathBuf,
    encoding: EncodingKey,
    decoding: DecodingKey,
    handle_mac: [u8; 32],
    handle_enc: [u8; 32],
    revoked: Mutex<(Option<SystemTime>, HashSet<String>)>,
    verified: Mutex<lru::LruCache<String, Claims>>,
    /// GA/T 1400 credentials (realm `anju` unless [`Auth::with_realm`]).
    viid: digest::Credentials,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("dir", &self.dir).finish()
    }
}

impl Auth {
    /// Opens the directory, creating it and a new random key on first use.
    pub fn open(dir: &Path) -> Result<Self, AuthError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key_path = dir.join("secret");
        let secret = match std::fs::read(&key_path) {
            Ok(k) if k.len() >= 32 => k,
            Ok(_) => {
                return Err(AuthError::Invalid(format!(
                    "{} is shorter than 32 bytes; remove it to make a new key (every token becomes invalid)",
                    key_path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k: [u8; 32] = rand::random();
                write_private(&key_path, &k)?;
                k.to_vec()
            }
            Err(e) => return Err(io(&key_path)(e)),
        };
        Ok(Self {
            dir: dir.to_owned(),
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            handle_mac: prf(&secret, &[b"anju handle mac"]),
            handle_enc: prf(&secret, &[b"anju handle enc"]),
            revoked: Mutex::new((None, HashSet::new())),
            verified: Mutex::new(lru::LruCache::new(VERIFIED_KEPT)),
            viid: digest::Credentials::new(dir, &secret, "anju"),
            secret,
        })
    }

    /// The same, with the GA/T 1400 Digest realm `realm`.
    pub fn with_realm(mut self, realm: &str) -> Self {
        self.viid = digest::Credentials::new(&self.dir, &self.secret, realm);
        self
    }

    /// The GA/T 1400 credentials.
    pub fn viid(&self) -> &digest::Credentials {
        &self.viid
    }

    /// Signs a new token for a new holder and records it in
    /// `issued.jsonl`.
    pub fn issue(
        &self,
        sub: &str,
        role: Role,
        regions: Vec<String>,
        device: Option<String>,
        ttl: Duration,
    ) -> Result<(String, Claims), AuthError> {
        self.issue_for(None, sub, role, regions, device, ttl)
    }

    /// Signs a new token for `holder` (an identity a token issued here
    /// already has, as `anju token list` shows it; none: a new holder).
    pub fn issue_for(
        &self,
        holder: Option<&str>,
        sub: &str,
        role: Role,
        regions: Vec<String>,
        device: Option<String>,
        ttl: Duration,
    ) -> Result<(String, Claims), AuthError> {
        let uid = match holder {
            Some(h) => {
                if !self
                    .issued()?
                    .iter()
                    .any(|(c, _)| c.uid.as_deref() == Some(h))
                {
                    return Err(AuthError::Invalid(format!(
                        "no token was issued here to holder {h:?} (see `anju token list`)"
                    )));
                }
                h.to_owned()
            }
            None => format!("h-{:016x}", rand::random::<u64>()),
        };
        for r in &regions {
            model::RegionCode::new(r)
                .map_err(|e| AuthError::Invalid(format!("region {r:?}: {e}")))?;
        }
        match role {
            Role::Admin if !regions.is_empty() => {
                return Err(AuthError::Invalid(
                    "an administrator sees all regions; give no --region".into(),
                ));
            }
            Role::Device if device.is_none() => {
                return Err(AuthError::Invalid(
                    "a device token names its device (--device)".into(),
                ));
            }
            Role::Admin | Role::Device => {}
            _ if regions.is_empty() => {
                return Err(AuthError::Invalid(format!(
                    "a {} token needs its region (--region CODE)",
                    role.as_str()
                )));
            }
            _ => {}
        }
        if sub.trim().is_empty() {
            return Err(AuthError::Invalid("a token needs a name (--name)".into()));
        }
        let iat = chrono::Utc::now().timestamp();
        let jti = format!("{:016x}", rand::random::<u64>());
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            regions,
            device,
            jti,
            iat,
            exp: iat + ttl.as_secs() as i64,
            uid: Some(uid),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Invalid(format!("signing: {e}")))?;
        let path = self.dir.join("issued.jsonl");
        let mut line = serde_json::to_vec(&claims).unwrap_or_default();
        line.push(b'\n');
        append_synced(&path, &line)?;
        Ok((token, claims))
    }

    /// The claims of a valid, unexpired, unrevoked token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        // a token verified before, still before its expiry (a token at or
        // past it is decoded again, which says it has expired)
        let kept = lock(&self.verified)
            .get(token)
            .filter(|c| chrono::Utc::now().timestamp() < c.exp)
            .cloned();
        let claims = match kept {
            Some(c) => c,
            None => self.decode(token)?,
        };
        if self.is_revoked(&claims.jti)? {
            return Err(AuthError::Refused("the token has been revoked".into()));
        }
        Ok(claims)
    }

    /// The claims of a token with a valid signature, unexpired (kept for
    /// the next [`Auth::verify`] of the same token).
    fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map_err(|e| {
            AuthError::Refused(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired".into(),
                _ => "the token is not valid".into(),
            })
        })?;
        lock(&self.verified).put(token.to_owned(), data.claims.clone());
        Ok(data.claims)
    }

    fn is_revoked(&self, jti: &str) -> Result<bool, AuthError> {
        let path = self.dir.join("revoked");
        let mtime = match std::fs::metadata(&path) {
            Ok(m) => m.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&path)(e)),
        };
        let mut g = lock(&self.revoked);
        if mtime.is_some() && g.0 != mtime {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            g.1 = text.lines().map(|l| l.trim().to_owned()).collect();
            g.0 = mtime;
        }
        Ok(g.1.contains(jti))
    }

    /// Revokes a token by id; false when no such token was issued here.
    pub fn revoke(&self, jti: &str) -> Result<bool, AuthError> {
        if !self.issued()?.iter().any(|(c, _)| c.jti == jti) {
            return Ok(false);
        }
        append_synced(&self.dir.join("revoked"), format!("{jti}\n").as_bytes())?;
        Ok(true)
    }

    /// Every token issued here, with whether it was revoked.
    pub fn issued(&self) -> Result<Vec<(Claims, bool)>, AuthError> {
        let path = self.dir.join("issued.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // a torn last line (a crash while appending) is skipped
            if let Ok(c) = serde_json::from_str::<Claims>(line) {
                let revoked = self.is_revoked(&c.jti)?;
                out.push((c, revoked));
            }
        }
        Ok(out)
    }

    /// An opaque, stable stand-in for an identifier (`~…`), which only this
    /// deployment can turn back ([`Auth::unhandle`]): a synthetic IV (a MAC
    /// of the identifier) and the identifier under an HMAC keystream.
    pub fn handle(&self, id: &str) -> String {
        let iv = &prf(&self.handle_mac, &[id.as_bytes()])[..HANDLE_IV];
        let mut out = iv.to_vec();
        out.extend(self.keystream(iv, id.as_bytes()));
        format!(
            "~{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        )
    }

    pub fn unhandle(&self, h: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h.strip_prefix('~')?)
            .ok()?;
        if raw.len() <= HANDLE_IV {
            return None;
        }
        let (iv, ct) = raw.split_at(HANDLE_IV);
        let pt = self.keystream(iv, ct);
        let id = String::from_utf8(pt).ok()?;
        (prf(&self.handle_mac, &[id.as_bytes()])[..HANDLE_IV] == *iv).then_some(id)
    }

    fn keystream(&self, iv: &[u8], data: &[u8]) -> Vec<u8> {
        data.chunks(32)
            .enumerate()
            .flat_map(|(i, chunk)| {
                let ks = prf(&self.handle_enc, &[iv, &(i as u32).to_be_bytes()]);
                chunk.iter().zip(ks).map(|(a, b)| a ^ b).collect::<Vec<_>>()
            })
            .collect()
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), AuthError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn append_synced(path: &Path, data: &[u8]) -> Result<(), AuthError> {
    let mut o = std::fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// `8h`, `30m`, `7d`, bounded by `max`.
pub fn parse_ttl(s: &str, max: &str) -> Result<Duration, AuthError> {
    let d = humantime::parse_duration(s)
        .map_err(|e| AuthError::Invalid(format!("duration {s:?}: {e} (e.g. 8h, 30m, 7d)")))?;
    let m = humantime::parse_duration(max).unwrap_or(Duration::MAX);
    if d.is_zero() || d > m {
        return Err(AuthError::Invalid(format!(
            "duration {s:?} must be more than 0 and at most {max}"
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_expire_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        let (t, c) = a
            .issue(
                "wang",
                Role::Officer,
                vec!["320902".into()],
                None,
                Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(a.verify(&t).unwrap(), c);
        // another deployment's key does not verify it
        let other = tempfile::tempdir().unwrap();
        assert!(Auth::open(other.path()).unwrap().verify(&t).is_err());
        // a tampered token does not verify
        let mut bad = t.clone();
        bad.pop();
        assert!(a.verify(&bad).is_err());
        assert!(a.revoke(&c.jti).unwrap());
        assert!(!a.revoke("nope").unwrap());
        let e = a.verify(&t).unwrap_err().to_string();
        assert!(e.contains("revoked"), "{e}");
        // a reopened directory keeps key and revocations
        let a2 = Auth::open(dir.path()).unwrap();
        assert!(a2.verify(&t).unwrap_err().to_string().contains("revoked"));
        assert_eq!(a2.issued().unwrap().len(), 1);
        // roles need what they need
        assert!(
            a.issue("x", Role::Analyst, vec![], None, Duration::from_secs(1))
                .is_err()
        );
        assert!(
            a.issue("x", Role::Device, vec![], None, Duration::from_secs(1))
                .is_err()
        );
        assert!(
            a.issue(
                "x",
                Role::Officer,
                vec!["abc".into()],
                None,
                Duration::from_secs(1)
            )
            .is_err()
        );
    }

    #[test]
    fn a_holder_is_set_by_the_issuer_not_by_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        let ttl = Duration::from_secs(60);
        let (_, wang) = a
            .issue("wang", Role::Officer, vec!["320902".into()], None, ttl)
            .unwrap();
        // the same name: another holder
        let (_, twin) = a
            .issue("wang", Role::Officer, vec!["320902".into()], None, ttl)
            .unwrap();
        assert_ne!(wang.holder(), twin.holder());
        // a renewal for the same holder, named by the issuer
        let (_, renewed) = a
            .issue_for(
                Some(&wang.holder()),
                "wang",
                Role::Officer,
                vec!["320902".into()],
                None,
                ttl,
            )
            .unwrap();
        assert_eq!(renewed.holder(), wang.holder());
        assert!(
            a.issue_for(
                Some("h-made-up"),
                "x",
                Role::Officer,
                vec!["320902".into()],
                None,
                ttl
            )
            .is_err()
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        let now = chrono::Utc::now().timestamp();
        let c = Claims {
            sub: "old".into(),
            role: Role::Admin,
            regions: vec![],
            device: None,
            jti: "1".into(),
            iat: now - 100,
            exp: now - 1,
            uid: None,
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &a.encoding).unwrap();
        assert!(a.verify(&t).unwrap_err().to_string().contains("expired"));
        // one verified (and kept) while valid is refused once its time is up
        let c = Claims {
            exp: now + 1,
            jti: "2".into(),
            ..c
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &a.encoding).unwrap();
        assert_eq!(a.verify(&t).unwrap(), c);
        while chrono::Utc::now().timestamp() <= now + 1 {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(a.verify(&t).unwrap_err().to_string().contains("expired"));
    }

    #[test]
    fn handles_round_trip_and_resist_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        let id = "320902198001011234";
        let h = a.handle(id);
        assert_eq!(h, a.handle(id), "stable");
        assert!(!h.contains("1234"), "{h}");
        assert_eq!(a.unhandle(&h).as_deref(), Some(id));
        assert_ne!(a.handle("320902198001011235"), h);
        let mut t: Vec<char> = h.chars().collect();
        let i = t.len() - 1;
        t[i] = if t[i] == 'A' { 'B' } else { 'A' };
        assert_eq!(a.unhandle(&t.into_iter().collect::<String>()), None);
        assert_eq!(a.unhandle("~"), None);
        assert_eq!(a.unhandle("plain"), None);
    }

    #[test]
    fn ttls_are_bounded() {
        assert_eq!(
            parse_ttl("8h", "366d").unwrap(),
            Duration::from_secs(8 * 3600)
        );
        assert!(parse_ttl("400d", "366d").is_err());
        assert!(parse_ttl("0s", "366d").is_err());
        assert!(parse_ttl("soon", "366d").is_err());
    }
}
