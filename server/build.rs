//! The web console is embedded from `web/dist` (built by `scripts/web.sh`):
//! rebuild when it changes. The folder is made empty when missing, so a
//! binary built before the console (or without Node.js) still builds and
//! tracks it; it then serves a page saying how to build the console.
fn main() {
    let dist = std::path::Path::new("../web/dist");
    let _ = std::fs::create_dir_all(dist);
    println!("cargo:rerun-if-changed=../web/dist");
}
