//! The report: the machine, the date, the command and every table.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::Args;
use crate::measure::Results;
use crate::scenarios::Plan;

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    // Counted from /proc/cpuinfo: the process itself is pinned to one CPU.
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    format!("{model}, {cpus} CPUs, {}", std::env::consts::OS)
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The whole report as markdown.
pub(crate) fn markdown(
    args: &Args,
    plan: &Plan,
    results: &[Results],
    pinned: bool,
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let command = if args.quick {
        "cargo run -p towline-bench --release -- --quick"
    } else {
        "cargo run -p towline-bench --release"
    };
    let _ = writeln!(
        out,
        "# towline benchmarks{}\n",
        if args.quick { " (quick)" } else { "" }
    );
    let _ = writeln!(out, "- machine: {}", machine());
    let _ = writeln!(
        out,
        "- date: {}",
        output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".to_owned())
    );
    let _ = writeln!(
        out,
        "- rustc: {}",
        output_of("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_owned())
    );
    let _ = writeln!(out, "- command: `{command}`");
    let _ = writeln!(
        out,
        "- method: client and loopback hyper server in two processes{}; {} rounds per scenario, sides rotated each round, one untimed warm-up run per side (scenarios 5 and 9: a new child process per side and round, which warms up with one GET); CPU is the client process's user + system time from getrusage; total run {:.0} s; client peak RSS {} MiB",
        if pinned {
            ", both pinned to CPU 0"
        } else {
            ", not pinned"
        },
        plan.rounds,
        elapsed.as_secs_f64(),
        crate::measure::peak_rss_kib() / 1024
    );
    out.push('\n');
    for r in results {
        out.push_str(&r.table());
        out.push('\n');
    }
    out.push_str(MICRO);
    out
}

/// Where the rest of issue 11's measurements are.
const MICRO: &str = "### Micro-benchmarks\n\nWhat each towline layer costs a request, over an in-memory service: `cargo bench -p towline-bench --bench layers` (criterion; not run by this binary).\n";
