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
