//! Timing, CPU time from getrusage, and the markdown tables.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

use crate::sides::Side;

/// This process's user + system CPU time so far.
pub(crate) fn cpu_time() -> Duration {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => timeval(usage.user_time()) + timeval(usage.system_time()),
        Err(_) => Duration::ZERO,
    }
}

/// This process's peak resident set size, in KiB.
pub(crate) fn peak_rss_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.max_rss())
}

fn timeval(tv: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(tv.tv_sec()).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// What a scenario reports and which way is better.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Metric {
    /// Requests per second, higher is better.
    RequestsPerSec,
    /// Decimal gigabytes per second of body, higher is better.
    GbPerSec,
    /// Microseconds per operation (a redirect chain), lower is better.
    MicrosPerOp,
    /// KiB of peak resident set growth per request in flight, lower is better.
    KibPerRequest,
}

impl Metric {
    fn header(self) -> &'static str {
        match self {
            Metric::RequestsPerSec => "requests/s",
            Metric::GbPerSec => "GB/s",
            Metric::MicrosPerOp => "µs/chain",
            Metric::KibPerRequest => "peak RSS KiB/request",
        }
    }

    fn cpu_header(self) -> &'static str {
        match self {
            Metric::RequestsPerSec | Metric::KibPerRequest => "CPU µs/request",
            Metric::GbPerSec => "CPU ms/GB",
            Metric::MicrosPerOp => "CPU µs/chain",
        }
    }

    fn better(self) -> &'static str {
        match self {
            Metric::RequestsPerSec | Metric::GbPerSec => "higher is better",
            Metric::MicrosPerOp | Metric::KibPerRequest => "lower is better",
        }
    }
}

/// One side's run in one round.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sample {
    /// Wall time of the run.
    pub(crate) wall: Duration,
    /// Client CPU time (user + system) of the run.
    pub(crate) cpu: Duration,
    /// Requests (or chains) completed.
    pub(crate) ops: u64,
    /// Body bytes received (decoded).
    pub(crate) bytes: u64,
    /// Per-request latencies, when the scenario records them.
    pub(crate) latencies: Vec<Duration>,
    /// Growth of the peak resident set during the run, in KiB, when measured.
    pub(crate) rss_growth_kib: Option<u64>,
    /// The most requests the server held at once, when it counts them.
    pub(crate) in_flight: Option<u64>,
}

/// Runs `f`, timing it with the wall clock and getrusage.
pub(crate) async fn measured<F, Fut>(f: F) -> Result<Sample, crate::BoxError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Sample, crate::BoxError>>,
{
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut sample = f().await?;
    sample.wall = t0.elapsed();
    sample.cpu = cpu_time().saturating_sub(cpu0);
    Ok(sample)
}

impl Sample {
    fn value(&self, metric: Metric) -> f64 {
        let secs = self.wall.as_secs_f64().max(1e-9);
        match metric {
            Metric::RequestsPerSec => self.ops as f64 / secs,
            Metric::GbPerSec => self.bytes as f64 / secs / 1e9,
            Metric::MicrosPerOp => secs * 1e6 / (self.ops.max(1) as f64),
            Metric::KibPerRequest => {
                self.rss_growth_kib.unwrap_or(0) as f64 / (self.ops.max(1) as f64)
            }
        }
    }

    /// CPU µs per operation, or CPU ms per GB of body for throughput scenarios.
    fn cpu_cost(&self, metric: Metric) -> f64 {
        match metric {
            Metric::GbPerSec => self.cpu.as_secs_f64() * 1e3 / (self.bytes.max(1) as f64 / 1e9),
            _ => self.cpu.as_secs_f64() * 1e6 / (self.ops.max(1) as f64),
        }
    }

    fn percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
        sorted.get(rank).copied()
    }
}

/// Every round of one scenario for every side.
#[derive(Debug)]
pub(crate) struct Results {
    /// The scenario's title.
    pub(crate) title: String,
    /// What is reported.
    pub(crate) metric: Metric,
    /// A remark printed under the table.
    pub(crate) note: String,
    /// Samples per side, in round order.
    pub(crate) samples: Vec<(Side, Vec<Sample>)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn fmt_value(x: f64, metric: Metric) -> String {
    match metric {
        Metric::GbPerSec => format!("{x:.2}"),
        Metric::RequestsPerSec if x >= 1000.0 => format!("{x:.0}"),
        _ => format!("{x:.1}"),
    }
}

impl Results {
    fn median_of(&self, side: Side) -> Option<f64> {
        self.samples
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, v)| median(v.iter().map(|s| s.value(self.metric)).collect()))
    }

    /// The markdown table, with a `###` heading.
    pub(crate) fn table(&self) -> String {
        let m = self.metric;
        let columns = self.extra_columns();
        let peers: Vec<(&str, f64)> = PEERS
            .iter()
            .filter_map(|&(side, header)| Some((header, self.median_of(side)?)))
            .collect();
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let _ = write!(
            out,
            "| side | {h} (median) | min–max | {c} |",
            h = m.header(),
            c = m.cpu_header()
        );
        for column in &columns {
            let _ = write!(out, " {} |", column.header);
        }
        for (header, _) in &peers {
            let _ = write!(out, " {header} |");
        }
        out.push_str("\n|---|");
        for _ in 0..3 + columns.len() + peers.len() {
            out.push_str("---:|");
        }
        out.push('\n');
        for (side, samples) in &self.samples {
            let values: Vec<f64> = samples.iter().map(|s| s.value(m)).collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let med = median(values);
            let cpu = median(samples.iter().map(|s| s.cpu_cost(m)).collect());
            let _ = write!(
                out,
                "| {} | {} | {}–{} | {:.1} |",
                side.name(),
                fmt_value(med, m),
                fmt_value(lo, m),
                fmt_value(hi, m),
                cpu
            );
            for column in &columns {
                let _ = write!(out, " {} |", (column.cell)(samples));
            }
            for &(_, peer) in &peers {
                let ratio = if side.is_towline() && peer > 0.0 {
                    format!("{:.3}", med / peer)
                } else {
                    "—".to_owned()
                };
                let _ = write!(out, " {ratio} |");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\n{}; {} rounds, sides alternated round by round. {}",
            m.better(),
            self.samples.first().map_or(0, |(_, v)| v.len()),
            self.note
        );
        out
    }

    /// The columns between the CPU one and the ratios, for what the samples recorded.
    fn extra_columns(&self) -> Vec<Column> {
        let any = |f: fn(&Sample) -> bool| self.samples.iter().any(|(_, v)| v.iter().any(f));
        let mut columns = Vec::new();
        if any(|s| !s.latencies.is_empty()) {
            columns.push(Column {
                header: "p50 µs",
                cell: |v| format!("{:.1}", latency_median(v, 0.5)),
            });
            columns.push(Column {
                header: "p99 µs",
                cell: |v| format!("{:.1}", latency_median(v, 0.99)),
            });
        }
        let rss = any(|s| s.rss_growth_kib.is_some());
        if rss && !matches!(self.metric, Metric::KibPerRequest) {
            columns.push(Column {
                header: "peak RSS growth MiB (max)",
                cell: |v| {
                    let max = v.iter().filter_map(|s| s.rss_growth_kib).max().unwrap_or(0);
                    format!("{:.1}", max as f64 / 1024.0)
                },
            });
        }
        if any(|s| s.in_flight.is_some()) {
            columns.push(Column {
                header: "wall s (median)",
                cell: |v| {
                    format!(
                        "{:.2}",
                        median(v.iter().map(|s| s.wall.as_secs_f64()).collect())
                    )
                },
            });
            columns.push(Column {
                header: "held at once (min)",
                cell: |v| {
                    let min = v.iter().filter_map(|s| s.in_flight).min().unwrap_or(0);
                    min.to_string()
                },
            });
        }
        columns
    }
}

/// The sides towline's rows are compared with, and the headers of their ratio columns;
/// a column appears when its side ran.
const PEERS: [(Side, &str); 3] = [
    (Side::HyperUtil, "towline/hyper-util"),
    (Side::Reqwest, "towline/reqwest"),
    (Side::RawConn, "towline/raw conn"),
];

/// A column some tables add after the CPU one: its header and how a side's samples fill
/// its cell.
struct Column {
    header: &'static str,
    cell: fn(&[Sample]) -> String,
}

/// The median over the rounds of one latency percentile, in µs.
fn latency_median(samples: &[Sample], q: f64) -> f64 {
    median(
        samples
            .iter()
            .filter_map(|s| s.percentile(q))
            .map(|d| d.as_secs_f64() * 1e6)
            .collect(),
    )
}
