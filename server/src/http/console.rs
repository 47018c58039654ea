//! The web console (`web/`, a React app built by `scripts/web.sh` into
//! `web/dist`), embedded in the binary at compile time and served at `/`:
//! hashed assets under `/assets/` cached for good, every other path that is
//! not the API's answered with the page itself (the console routes in the
//! browser). The page's Content-Security-Policy lets it reach nothing but
//! this origin (and the deployment's own tile server, when configured): on a
//! police network there is nothing else to reach.
//!
//! A binary built before `web/dist` existed serves a page saying how to
//! build the console; the API works either way.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

use super::App;

#[derive(rust_embed::RustEmbed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

/// Whether this binary carries the console.
pub fn built() -> bool {
    Assets::get("index.html").is_some()
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Anju</title>\
<p>This binary was built without the web console. Build it with \
<code>bash scripts/web.sh</code>, then build the binary again \
(<code>scripts/demo.sh</code> does both). The GraphQL API is at \
<code>/graphql</code>.</p>";

/// The page's policy: scripts, styles, workers, fonts and connections from
/// this origin only (inline styles for the component library; blob workers
/// for the map), images also from data/blob URLs and the tile server.
fn policy(tiles: Option<&str>) -> String {
    let tiles = tiles.map(|t| format!(" {t}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:{tiles}; font-src 'self' data:; worker-src 'self' blob:; \
         connect-src 'self'{tiles}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

fn with_headers(mut r: Response, cache: &'static str, csp: Option<String>) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(csp) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    r
}

/// `GET` of anything the API does not route.
pub(super) async fn console(State(app): State<App>, uri: Uri) -> Response {
    let cfg = &app.engine.config.server;
    let path = uri.path().trim_start_matches('/');
    if !cfg.console {
        return (StatusCode::NOT_FOUND, "the console is turned off").into_response();
    }
    if !path.is_empty()
        && let Some(file) = Assets::get(path)
    {
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mime = file.metadata.mimetype().to_owned();
        let r = ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response();
        return with_headers(r, cache, None);
    }
    // a file that is not there is not a page
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("assets/") || last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let playground_off = !cfg.playground || cfg.production;
    if playground_off && (path == "playground" || path.starts_with("playground/")) {
        return (StatusCode::NOT_FOUND, "the playground is turned off").into_response();
    }
    let Some(index) = Assets::get("index.html") else {
        let r = (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response();
        return with_headers(r, "no-cache", Some(policy(None)));
    };
    let tiles = cfg.tile_url.as_deref();
    let origin = tiles.and_then(crate::config::tile_origin);
    let mut html = String::from_utf8_lossy(&index.data).into_owned();
    if let Some(t) = tiles.filter(|_| origin.is_some()) {
        // validated at load: no quote or angle bracket can break out
        html = html.replacen(
            "</head>",
            &format!("<meta name=\"anju-tiles\" content=\"{t}\" />\n</head>"),
            1,
        );
    }
    with_headers(Html(html).into_response(), "no-cache", Some(policy(origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_this_origin_and_the_tile_server() {
        let p = policy(None);
        assert!(p.contains("connect-src 'self';"), "{p}");
        assert!(!p.contains("http"), "{p}");
        let p = policy(crate::config::tile_origin(
            "http://gis.lan:8000/t/{z}/{x}/{y}.png",
        ));
        assert!(
            p.contains("img-src 'self' data: blob: http://gis.lan:8000;"),
            "{p}"
        );
    }

    #[test]
    fn tile_urls_are_checked() {
        use crate::config::tile_origin;
        assert_eq!(
            tile_origin("https://gis.lan/{z}/{x}/{y}.png"),
            Some("https://gis.lan")
        );
        for bad in [
            "gis.lan/{z}/{x}/{y}.png",
            "http://gis.lan/tiles.png",
            "http://gis.lan/{z}/{x}/{y}\"><script>",
            "http:///{z}/{x}/{y}",
            "javascript:alert(1)//{z}{x}{y}",
        ] {
            assert_eq!(tile_origin(bad), None, "{bad}");
        }
    }
}
