//! The scenarios of issue 11, their sizes, and the rounds that alternate the sides.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::child::{self, Job};
use crate::measure::{Metric, Results, Sample, measured};
use crate::sides::{Side, Sides, Target};
use crate::upload::UploadFile;
use crate::{Args, BoxError};

const MIB: u64 = 1024 * 1024;

/// Sizes and counts of one run.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Rounds per scenario.
    pub(crate) rounds: usize,
    only: Vec<u32>,
    sequential: usize,
    concurrent_per_task: usize,
    download: u64,
    gzip: u64,
    chains: usize,
    h2_per_stream: usize,
    tls_new: usize,
    upload: u64,
    in_flight: usize,
}

/// Concurrent requests of scenario 2.
const CONCURRENCY: usize = 64;
/// Concurrent h2 streams of scenario 8.
const H2_STREAMS: usize = 100;
/// Hops of scenario 6.
const HOPS: usize = 5;

impl Plan {
    /// The quick plan or the full one.
    pub(crate) fn new(args: &Args) -> Plan {
        let mut plan = if args.quick {
            Plan {
                rounds: 5,
                only: Vec::new(),
                sequential: 5_000,
                concurrent_per_task: 100,
                download: 64 * MIB,
                gzip: 64 * MIB,
                chains: 500,
                h2_per_stream: 50,
                tls_new: 500,
                upload: 32 * MIB,
                in_flight: 1_000,
            }
        } else {
            Plan {
                rounds: 15,
                only: Vec::new(),
                sequential: 10_000,
                concurrent_per_task: 200,
                download: 1024 * MIB,
                gzip: 256 * MIB,
                chains: 1_000,
                h2_per_stream: 100,
                tls_new: 2_000,
                upload: 256 * MIB,
                in_flight: 10_000,
            }
        };
        if let Some(r) = args.rounds {
            plan.rounds = r.max(1);
        }
        plan.only = args.only.clone();
        plan
    }

    fn wants(&self, n: u32) -> bool {
        self.only.is_empty() || self.only.contains(&n)
    }

    /// Decoded sizes of the gzip bodies the server must prepare.
    pub(crate) fn gzip_sizes(&self) -> Vec<u64> {
        if self.wants(4) {
            vec![self.gzip]
        } else {
            Vec::new()
        }
    }
}

/// Which kind of work one run of a scenario does.
#[derive(Clone, Copy, Debug)]
enum Work<'a> {
    Sequential,
    Concurrent,
    Download,
    Gzip,
    Redirects,
    H2,
    /// Upload this file, in a child process.
    Upload(&'a Path),
    /// This many requests in flight at once, in a child process.
    InFlight(usize),
}

impl Work<'_> {
    /// Whether each run is a child process of its own, which warms itself up.
    fn in_child(self) -> bool {
        matches!(self, Work::Upload(_) | Work::InFlight(_))
    }
}

/// Runs every scenario the plan wants.
pub(crate) async fn run_all(
    plan: &Plan,
    server: &crate::ServerProcess,
) -> Result<Vec<Results>, BoxError> {
    let base = format!("http://127.0.0.1:{}", server.port);
    let h1 = Arc::new(Sides::new(false)?);
    let all = &Side::ALL[..];
    let with_raw = &[
        Side::Connector,
        Side::Client,
        Side::HyperUtil,
        Side::Reqwest,
        Side::RawConn,
    ][..];
    let no_connector = &[Side::Client, Side::HyperUtil, Side::Reqwest][..];
    // Written once, before the runs; removed when this is dropped, whatever happens.
    let upload = if plan.wants(5) {
        eprintln!("writing the {} MiB file of scenario 5", plan.upload / MIB);
        Some(UploadFile::create(plan.upload)?)
    } else {
        None
    };
    let mut out = Vec::new();
    let mut scenarios = vec![
        Scenario {
            n: 1,
            title: format!("(1) sequential 1 KiB GETs, one keep-alive connection ({} per run)", plan.sequential),
            metric: Metric::RequestsPerSec,
            work: Work::Sequential,
            sides: with_raw,
            note: "p50/p99: latency of one request, median over the rounds. The raw conn row is one `hyper::client::conn::http1` connection driven by hand, no pool, no layers: the limit (issue 11's target: the bare `Connector` within 5% of it).".to_owned(),
        },
        Scenario {
            n: 2,
            title: format!(
                "(2) {CONCURRENCY} concurrent 1 KiB GETs to one host ({} per run)",
                CONCURRENCY * plan.concurrent_per_task
            ),
            metric: Metric::RequestsPerSec,
            work: Work::Concurrent,
            sides: all,
            note: "Default pools: towline keeps 32 idle connections per host, hyper-util and reqwest keep any number.".to_owned(),
        },
        Scenario {
            n: 3,
            title: format!("(3) one {} MiB download", plan.download / MIB),
            metric: Metric::GbPerSec,
            work: Work::Download,
            sides: all,
            note: String::new(),
        },
        Scenario {
            n: 4,
            title: format!("(4) a {} MiB gzip body, decoded", plan.gzip / MIB),
            metric: Metric::GbPerSec,
            work: Work::Gzip,
            sides: no_connector,
            note: "GB/s of decoded body. hyper-util has no decoder: its row decodes with flate2 by hand (the floor).".to_owned(),
        },
    ];
    if let Some(file) = &upload {
        scenarios.push(Scenario {
            n: 5,
            title: format!("(5) a {} MiB upload from a file", plan.upload / MIB),
            metric: Metric::GbPerSec,
            work: Work::Upload(file.path()),
            sides: all,
            note: "Each run is a new child process: it opens its connection with an untimed GET, then POSTs the file (in the page cache) with its `Content-Length`; the server reads and counts the body, and the child checks the count. towline sends `Body::from_path`; hyper-util and reqwest (`Body::wrap`) send a minimal `http_body::Body` that reads 64 KiB chunks of a `tokio::fs::File`, as `from_path` does. Peak RSS growth: the child's `VmHWM` after the upload less its `VmRSS` before it (the mark reset through `/proc/self/clear_refs`); issue 11's target is at most 16 MiB.".to_owned(),
        });
    }
    scenarios.push(Scenario {
        n: 6,
        title: format!(
            "(6) a {HOPS}-hop redirect chain with a cookie per hop ({} chains per run)",
            plan.chains
        ),
        metric: Metric::MicrosPerOp,
        work: Work::Redirects,
        sides: no_connector,
        note: "hyper-util follows the redirects and keeps the cookies by hand (the floor)."
            .to_owned(),
    });
    for scenario in scenarios {
        if plan.wants(scenario.n) {
            out.push(rounds(plan, &base, &h1, scenario).await?);
        }
    }
    if plan.wants(7) {
        let config = tls_config(&server.ca_pem)?;
        let tls_base = format!("https://127.0.0.1:{}", server.tls_port);
        for persistent in [true, false] {
            let sides = Arc::new(Sides::tls(config.clone(), persistent)?);
            let (label, count) = if persistent {
                ("one keep-alive connection", plan.sequential)
            } else {
                (
                    "a new connection (TCP + TLS handshake) each time",
                    plan.tls_new,
                )
            };
            let tls_plan = Plan {
                only: Vec::new(),
                sequential: count,
                ..*plan
            };
            out.push(
                rounds(
                    &tls_plan,
                    &tls_base,
                    &sides,
                    Scenario {
                        n: 7,
                        title: format!("(7) HTTPS 1 KiB GETs, {label} ({count} per run)"),
                        metric: Metric::RequestsPerSec,
                        work: Work::Sequential,
                        sides: all,
                        note: "rustls with ring, TLS 1.3, HTTP/1.1; every side uses the same `rustls::ClientConfig`.".to_owned(),
                    },
                )
                .await?,
            );
        }
    }
    if plan.wants(8) {
        let h2 = Arc::new(Sides::new(true)?);
        out.push(
            rounds(
                plan,
                &base,
                &h2,
                Scenario {
                    n: 8,
                    title: format!(
                        "(8) {H2_STREAMS} concurrent h2 streams on one connection (h2c, prior knowledge; {} requests per run)",
                        H2_STREAMS * plan.h2_per_stream
                    ),
                    metric: Metric::RequestsPerSec,
                    work: Work::H2,
                    sides: all,
                    note: "1 KiB GETs over HTTP/2 without TLS.".to_owned(),
                },
            )
            .await?,
        );
    }
    if plan.wants(9) {
        let (n, limited) = in_flight_limit(plan.in_flight);
        out.push(
            rounds(
                plan,
                &base,
                &h1,
                Scenario {
                    n: 9,
                    title: format!("(9) {n} requests in flight at once against a slow server"),
                    metric: Metric::KibPerRequest,
                    work: Work::InFlight(n),
                    sides: all,
                    note: in_flight_note(n, limited),
                },
            )
            .await?,
        );
    }
    drop(upload);
    Ok(out)
}

/// How many requests scenario 9 can keep open at once: each takes a descriptor in the
/// client and one in the server, and an ephemeral port; some are left for the rest.
/// Returns the count and, when it is below `want`, why.
fn in_flight_limit(want: usize) -> (usize, Option<String>) {
    use nix::sys::resource::{Resource, getrlimit};
    const SPARE: u64 = 512;
    let fds = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    let ports = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|p| p.parse::<u64>().ok());
            let (lo, hi) = (it.next()??, it.next()??);
            Some(hi.saturating_sub(lo) + 1)
        })
        .unwrap_or(u64::MAX);
    let cap = fds.min(ports).saturating_sub(SPARE);
    match usize::try_from(cap) {
        Ok(cap) if cap < want => (
            cap,
            Some(format!(
                "Limited to {cap} (not {want}) by this machine: {fds} descriptors per process, {ports} ephemeral ports."
            )),
        ),
        _ => (want, None),
    }
}

/// Scenario 9's note: how the run goes, and any limit of this machine.
fn in_flight_note(n: usize, limited: Option<String>) -> String {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    let hold = child::HOLD_LIMIT.as_secs();
    let mut note = format!(
        "Each run is a new child process: after an untimed GET it starts {n} GETs at once, each on its own HTTP/1.1 connection (no side limits connections per host); the server holds every request until it holds all {n} (at most {hold} s), then answers each with 1 KiB. Held at once: the most the server held, as it tells each response; {n} means every request was in flight together. KiB/request: the child's peak RSS growth over the run (`VmHWM` after less `VmRSS` before) / {n}. Wall: from the first request to the last response. The server listens with a backlog of 16384, capped by `net.core.somaxconn` ({somaxconn} here)."
    );
    if let Some(limited) = limited {
        note.push(' ');
        note.push_str(&limited);
    }
    note
}

/// One scenario: what it is called, what it reports, which sides run it.
#[derive(Debug)]
struct Scenario<'a> {
    n: u32,
    title: String,
    metric: Metric,
    work: Work<'a>,
    sides: &'a [Side],
    note: String,
}

async fn rounds(
    plan: &Plan,
    base: &str,
    sides: &Arc<Sides>,
    scenario: Scenario<'_>,
) -> Result<Results, BoxError> {
    let Scenario {
        n: _,
        title,
        metric,
        work,
        sides: which,
        note,
    } = scenario;
    eprintln!("{title}");
    let mut samples: Vec<(Side, Vec<Sample>)> = which.iter().map(|&s| (s, Vec::new())).collect();
    // Warm-up: opens the connections and fills the pools, untimed.
    if !work.in_child() {
        for &side in which {
            once(plan, base, sides, side, work, true).await?;
        }
    }
    for round in 0..plan.rounds {
        for i in 0..which.len() {
            let k = (round + i) % which.len();
            let side = which[k];
            let sample = once(plan, base, sides, side, work, false).await?;
            samples[k].1.push(sample);
        }
    }
    let mut note = note;
    if matches!(work, Work::Concurrent | Work::H2) {
        let stats = sides.client_pool_stats();
        note.push_str(&format!(
            " towline `Client` pool after the runs: {} connections opened, {} reuses, {} closed.",
            stats.opened, stats.reused, stats.closed
        ));
    }
    Ok(Results {
        title,
        metric,
        note,
        samples,
    })
}

/// One run of one side; the warm-up run is smaller.
async fn once(
    plan: &Plan,
    base: &str,
    sides: &Arc<Sides>,
    side: Side,
    work: Work<'_>,
    warm_up: bool,
) -> Result<Sample, BoxError> {
    let scale = |n: usize| if warm_up { (n / 10).max(1) } else { n };
    match work {
        Work::Sequential => {
            let target = Target::new(&format!("{base}/small"))?;
            let n = scale(plan.sequential);
            measured(|| async {
                let mut sample = Sample {
                    latencies: Vec::with_capacity(n),
                    ..Sample::default()
                };
                for _ in 0..n {
                    let t = Instant::now();
                    sample.bytes += sides.get(side, &target, false).await?;
                    sample.latencies.push(t.elapsed());
                }
                sample.ops = n as u64;
                check(sample.bytes, 1024 * n as u64, side)?;
                Ok(sample)
            })
            .await
        }
        Work::Concurrent | Work::H2 => {
            let target = Target::new(&format!("{base}/small"))?;
            let (tasks, per_task) = match work {
                Work::H2 => (H2_STREAMS, scale(plan.h2_per_stream)),
                _ => (CONCURRENCY, scale(plan.concurrent_per_task)),
            };
            measured(|| async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..tasks {
                    let sides = sides.clone();
                    let target = target.clone();
                    set.spawn(async move {
                        let mut bytes = 0u64;
                        for _ in 0..per_task {
                            bytes += sides.get(side, &target, false).await?;
                        }
                        Ok::<u64, BoxError>(bytes)
                    });
                }
                let mut sample = Sample::default();
                while let Some(joined) = set.join_next().await {
                    sample.bytes += joined??;
                }
                sample.ops = (tasks * per_task) as u64;
                check(sample.bytes, 1024 * sample.ops, side)?;
                Ok(sample)
            })
            .await
        }
        Work::Download | Work::Gzip => {
            let (path, n) = match work {
                Work::Gzip => ("gzip", plan.gzip),
                _ => (
                    "big",
                    if warm_up {
                        plan.download / 16
                    } else {
                        plan.download
                    },
                ),
            };
            let target = Target::new(&format!("{base}/{path}?n={n}"))?;
            let gunzip = matches!(work, Work::Gzip);
            measured(|| async {
                let bytes = sides.get(side, &target, gunzip).await?;
                check(bytes, n, side)?;
                Ok(Sample {
                    ops: 1,
                    bytes,
                    ..Sample::default()
                })
            })
            .await
        }
        Work::Redirects => {
            let target = Target::new(&format!("{base}/redirect/{HOPS}"))?;
            let n = scale(plan.chains);
            measured(|| async {
                for _ in 0..n {
                    let hops = sides.chain(side, &target).await?;
                    if hops != HOPS && hops != usize::MAX {
                        return Err(format!("{}: {hops} hops, expected {HOPS}", side.name()).into());
                    }
                }
                Ok(Sample {
                    ops: n as u64,
                    ..Sample::default()
                })
            })
            .await
        }
        Work::Upload(path) => {
            let job = Job::Upload {
                side,
                base: base.to_owned(),
                path: path.to_owned(),
            };
            let sample = child::run(&job).await?;
            check(sample.bytes, plan.upload, side)?;
            Ok(sample)
        }
        Work::InFlight(n) => {
            let job = Job::InFlight {
                side,
                base: base.to_owned(),
                n,
            };
            child::run(&job).await
        }
    }
}

/// A body of the wrong length means the side did not do the work: fail loudly.
fn check(got: u64, want: u64, side: Side) -> Result<(), BoxError> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{}: read {got} body bytes, expected {want}", side.name()).into())
    }
}

/// The client configuration every HTTPS side shares: ring, the server's CA, HTTP/1.1.
fn tls_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
