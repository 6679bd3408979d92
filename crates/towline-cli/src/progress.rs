//! The progress bar of a download to a file: size, rate and ETA, on a terminal only.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing when stderr is not a terminal or `-s` is given.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Nothing to show.
    pub(crate) fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// A bar for `total` bytes (a counter with a rate when the size is unknown),
    /// drawn on stderr when it is a terminal.
    pub(crate) fn new(name: &str, total: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ),
            None => (
                ProgressBar::no_length(),
                "{msg} {spinner} {bytes} {bytes_per_sec} {elapsed}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.set_message(name.to_owned());
        Progress { bar: Some(bar) }
    }

    pub(crate) fn advance(&self, n: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
    }

    /// Leaves the bar as it is, complete or not, and ends its line so that what
    /// follows on stderr starts on a new one.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
            eprintln!();
        }
    }
}
