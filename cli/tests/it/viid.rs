//! A GA/T 1400 client for the tests, as a camera or a lower platform does
//! it: HTTP Digest, a challenge taken once and its nonce used with a
//! counter until the server asks again.

use std::sync::Mutex;

use serde_json::Value;

/// Digest credentials and the challenge in use.
pub(crate) struct Digest {
    pub(crate) user: String,
    secret: String,
    state: Mutex<Option<(String, u32)>>,
}

impl Digest {
    pub(crate) fn new(user: &str, secret: &str) -> Self {
        Self {
            user: user.to_owned(),
            secret: secret.to_owned(),
            state: Mutex::new(None),
        }
    }

    /// The `Authorization` value for the next request (none before a
    /// challenge was seen).
    fn header(&self, uri: &str) -> Option<String> {
        let mut g = self.state.lock().unwrap();
        let (challenge, nc) = g.as_mut()?;
        *nc += 1;
        server::auth::digest::respond(
            challenge,
            &self.user,
            &self.secret,
            "POST",
            uri,
            *nc,
            &format!("c{nc}"),
        )
    }

    fn challenged(&self, www_authenticate: &str) {
        *self.state.lock().unwrap() = Some((www_authenticate.to_owned(), 0));
    }
}

fn challenge_of(h: &reqwest::header::HeaderMap) -> Option<String> {
    h.get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// POSTs a GA/T 1400 body with Digest (answering a challenge once):
/// status and JSON answer (a 401 when the answer was refused too).
pub(crate) async fn post(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    body: &str,
    d: &Digest,
) -> (u16, Value) {
    for attempt in 0..2 {
        let mut r = c
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/VIID+JSON")
            .body(body.to_owned());
        if let Some(h) = d.header(path) {
            r = r.header("Authorization", h);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        if status == 401
            && attempt == 0
            && let Some(ch) = challenge_of(r.headers())
        {
            d.challenged(&ch);
            continue;
        }
        return (status, r.json::<Value>().await.unwrap_or(Value::Null));
    }
    unreachable!("the second attempt returns")
}

/// The same from a thread (the crash loop's simulator); none when the
/// server did not answer.
pub(crate) fn post_blocking(
    c: &reqwest::blocking::Client,
    base: &str,
    path: &str,
    body: &str,
    d: &Digest,
) -> Option<(u16, Value)> {
    for _ in 0..2 {
        let mut r = c
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/VIID+JSON")
            .body(body.to_owned());
        if let Some(h) = d.header(path) {
            r = r.header("Authorization", h);
        }
        let r = r.send().ok()?;
        let status = r.status().as_u16();
        if status == 401
            && let Some(ch) = challenge_of(r.headers())
        {
            d.challenged(&ch);
            continue;
        }
        return Some((status, r.json::<Value>().ok()?));
    }
    None
}
