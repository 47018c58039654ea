//! Terminal helpers for the command-line crates: [`say!`](crate::say) and
//! progress bars. A leaf: it imports nothing of this crate.

/// Prints a line to stdout; a closed pipe (`anju stats | head`) ends the
/// output quietly instead of panicking.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Runs a command-line program's body: logs go to stderr at `ANJU_LOG`'s
/// level (default `warn`); an error is printed with its whole chain and
/// the exit code is 2. (The `anju` and `anju-bench` binaries.)
pub fn run_main(
    body: impl FnOnce() -> anyhow::Result<std::process::ExitCode>,
) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANJU_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match body() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// A progress bar of `len` steps drawn with `template`, or a hidden one.
pub fn bar_for(show: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
