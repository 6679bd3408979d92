//! Scenarios 5 and 9 run each side alone in a short-lived child process (the binary
//! again, with `--child`), so that the peak resident set it reports is that side's.
//!
//! The child builds the one client, opens its connection with an untimed GET, notes its
//! resident set, does the work, and prints what it measured on one line of standard
//! output, which the parent reads back into a [`Sample`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HeaderMap};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Either, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;

use crate::BoxError;
use crate::measure::{Sample, measured};
use crate::sides::{Side, Target, drain};
use crate::upload::FileBody;

/// The longest the server holds a `/slow` request while it waits for the others.
pub(crate) const HOLD_LIMIT: Duration = Duration::from_secs(30);
/// The longest a child runs before it gives up.
const CHILD_LIMIT: Duration = Duration::from_secs(120);
/// Polls of `/stats` before a run of scenario 9, 10 ms apart.
const SETTLE_POLLS: usize = 1000;

/// What one child process does.
#[derive(Debug)]
pub(crate) enum Job {
    /// POSTs the file at `path` to `{base}/upload`.
    Upload {
        /// Who sends it.
        side: Side,
        /// `http://127.0.0.1:PORT`.
        base: String,
        /// The file.
        path: PathBuf,
    },
    /// Sends `n` GETs at once to `{base}/slow`, which holds each until all are in.
    InFlight {
        /// Who sends them.
        side: Side,
        /// `http://127.0.0.1:PORT`.
        base: String,
        /// How many.
        n: usize,
    },
}

impl Job {
    fn side(&self) -> Side {
        match self {
            Job::Upload { side, .. } | Job::InFlight { side, .. } => *side,
        }
    }

    /// The arguments after `--child`.
    fn args(&self) -> Vec<String> {
        match self {
            Job::Upload { side, base, path } => vec![
                "upload".to_owned(),
                side.key().to_owned(),
                base.clone(),
                path.display().to_string(),
            ],
            Job::InFlight { side, base, n } => vec![
                "in-flight".to_owned(),
                side.key().to_owned(),
                base.clone(),
                n.to_string(),
            ],
        }
    }

    /// Reads the arguments after `--child` back.
    fn parse(args: &[String]) -> Result<Job, BoxError> {
        let [kind, side, base, last] = args else {
            return Err(format!("--child takes four arguments, got {args:?}").into());
        };
        let side = Side::from_key(side)?;
        let base = base.clone();
        match kind.as_str() {
            "upload" => Ok(Job::Upload {
                side,
                base,
                path: PathBuf::from(last),
            }),
            "in-flight" => Ok(Job::InFlight {
                side,
                base,
                n: last.parse()?,
            }),
            other => Err(format!("no child job called {other:?}").into()),
        }
    }
}

/// Runs `job` in a child process and returns what it measured.
pub(crate) async fn run(job: &Job) -> Result<Sample, BoxError> {
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--child")
        .args(job.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await?;
    if !output.status.success() {
        let side = job.side().name();
        return Err(format!("{side}: the child process failed ({})", output.status).into());
    }
    decode(std::str::from_utf8(&output.stdout)?)
}

/// The child's `main`: runs the job, prints its sample.
pub(crate) fn main(args: &[String]) -> Result<(), BoxError> {
    let job = Job::parse(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sample = runtime.block_on(async {
        let work = async {
            match &job {
                Job::Upload { side, base, path } => upload(*side, base, path).await,
                Job::InFlight { side, base, n } => in_flight(*side, base, *n).await,
            }
        };
        tokio::time::timeout(CHILD_LIMIT, work)
            .await
            .map_err(|_| format!("{}: gave up after {CHILD_LIMIT:?}", job.side().name()))?
    })?;
    println!("{}", encode(&sample));
    Ok(())
}

/// Scenario 5 in the child: one upload of the file.
async fn upload(side: Side, base: &str, path: &Path) -> Result<Sample, BoxError> {
    let client = Solo::new(side)?;
    client.get(&Target::new(&format!("{base}/small"))?).await?;
    let target = Target::new(&format!("{base}/upload"))?;
    let peak = Peak::start()?;
    let mut sample = measured(|| async {
        let (sent, received) = client.upload(&target, path).await?;
        if sent != received {
            let side = side.name();
            return Err(format!("{side}: the server read {received} of {sent} bytes").into());
        }
        Ok(Sample {
            ops: 1,
            bytes: sent,
            ..Sample::default()
        })
    })
    .await?;
    sample.rss_growth_kib = Some(peak.growth_kib()?);
    Ok(sample)
}

/// Scenario 9 in the child: `n` GETs in flight at once.
async fn in_flight(side: Side, base: &str, n: usize) -> Result<Sample, BoxError> {
    let client = Arc::new(Solo::new(side)?);
    settle(&client, base).await?;
    let ms = HOLD_LIMIT.as_millis();
    let target = Arc::new(Target::new(&format!("{base}/slow?n={n}&ms={ms}"))?);
    let peak = Peak::start()?;
    let mut sample = measured(|| async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = client.clone();
            let target = target.clone();
            set.spawn(async move { client.get(&target).await });
        }
        let mut sample = Sample {
            ops: n as u64,
            ..Sample::default()
        };
        let mut held = 0;
        while let Some(joined) = set.join_next().await {
            let got = joined??;
            sample.bytes += got.bytes;
            held = held.max(got.count);
        }
        sample.in_flight = Some(held);
        if sample.bytes != 1024 * sample.ops {
            let side = side.name();
            return Err(format!("{side}: read {} body bytes of {n} GETs", sample.bytes).into());
        }
        Ok(sample)
    })
    .await?;
    sample.rss_growth_kib = Some(peak.growth_kib()?);
    Ok(sample)
}

/// Waits until the server has closed every connection an earlier run held requests
/// on, so that runs do not overlap (at most 10 s); opens this side's connection.
async fn settle(client: &Solo, base: &str) -> Result<(), BoxError> {
    let stats = Target::new(&format!("{base}/stats"))?;
    for _ in 0..SETTLE_POLLS {
        if client.get(&stats).await?.count == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("the server still holds connections of an earlier run; going on");
    Ok(())
}

/// The resident set before the measured work, against which the peak after it is read.
#[derive(Debug)]
struct Peak {
    start_kib: u64,
}

impl Peak {
    /// Resets the kernel's high-water mark of the resident set to its current size
    /// (Linux 4.0 and later) and reads that size.
    fn start() -> Result<Peak, BoxError> {
        if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
            eprintln!("could not reset the peak RSS ({e}): it counts from the start");
        }
        Ok(Peak {
            start_kib: status_kib("VmRSS")?,
        })
    }

    /// How far the peak went above the start, in KiB.
    fn growth_kib(&self) -> Result<u64, BoxError> {
        Ok(status_kib("VmHWM")?.saturating_sub(self.start_kib))
    }
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

/// A sample as the child prints it: `key=value` pairs on one line.
fn encode(sample: &Sample) -> String {
    let mut line = format!(
        "wall_ns={} cpu_ns={} ops={} bytes={}",
        sample.wall.as_nanos(),
        sample.cpu.as_nanos(),
        sample.ops,
        sample.bytes
    );
    if let Some(kib) = sample.rss_growth_kib {
        line.push_str(&format!(" rss_growth_kib={kib}"));
    }
    if let Some(held) = sample.in_flight {
        line.push_str(&format!(" held={held}"));
    }
    line
}

/// The sample a child printed.
fn decode(out: &str) -> Result<Sample, BoxError> {
    let line = out.lines().last().ok_or("the child printed nothing")?;
    let mut sample = Sample::default();
    for pair in line.split_whitespace() {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("the child printed {line:?}"))?;
        let value: u64 = value.parse()?;
        match key {
            "wall_ns" => sample.wall = Duration::from_nanos(value),
            "cpu_ns" => sample.cpu = Duration::from_nanos(value),
            "ops" => sample.ops = value,
            "bytes" => sample.bytes = value,
            "rss_growth_kib" => sample.rss_growth_kib = Some(value),
            "held" => sample.in_flight = Some(value),
            _ => return Err(format!("the child printed {line:?}").into()),
        }
    }
    Ok(sample)
}

/// What a GET brought back.
#[derive(Debug)]
struct Got {
    /// The number in the response's `x-count` header, 0 without one.
    count: u64,
    /// The body's length.
    bytes: u64,
}

/// One side's client, alone in its process. Each is built as in [`crate::sides`], with
/// no limit on connections per host (the default of each).
#[derive(Debug)]
enum Solo {
    Connector(towline::connect::Connector),
    Client(towline::Client),
    /// Boxed: the client is much bigger than the others.
    HyperUtil(Box<HyperClient<HttpConnector, Either<Empty<Bytes>, FileBody>>>),
    Reqwest(reqwest::Client),
}

impl Solo {
    fn new(side: Side) -> Result<Solo, BoxError> {
        Ok(match side {
            Side::Connector => Solo::Connector(
                towline::connect::Connector::builder()
                    .max_connections_per_host(None)
                    .build(),
            ),
            Side::Client => Solo::Client(
                towline::Client::builder()
                    .max_connections_per_host(None)
                    .build()?,
            ),
            Side::HyperUtil => {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                Solo::HyperUtil(Box::new(
                    HyperClient::builder(TokioExecutor::new()).build(http),
                ))
            }
            Side::Reqwest => Solo::Reqwest(
                reqwest::Client::builder()
                    .cookie_store(true)
                    .gzip(true)
                    .tcp_nodelay(true)
                    .no_proxy()
                    .http1_only()
                    .build()?,
            ),
            Side::RawConn => return Err(format!("{} runs scenario 1 only", side.name()).into()),
        })
    }

    /// GETs `target` and reads the body to its end.
    async fn get(&self, target: &Target) -> Result<Got, BoxError> {
        match self {
            Solo::Connector(c) => {
                let request = Request::get(target.uri.clone()).body(towline::Body::empty())?;
                let response = c.clone().oneshot(request).await?;
                let count = counted(response.status(), response.headers())?;
                let bytes = drain(response.into_body(), false).await?;
                Ok(Got { count, bytes })
            }
            Solo::Client(c) => {
                let mut response = c.get(target.uri.clone()).send().await?;
                let count = counted(response.status(), response.headers())?;
                let mut bytes = 0u64;
                while let Some(chunk) = response.chunk().await? {
                    bytes += chunk.len() as u64;
                }
                Ok(Got { count, bytes })
            }
            Solo::HyperUtil(c) => {
                let request = Request::get(target.uri.clone()).body(Either::Left(Empty::new()))?;
                let response = c.request(request).await?;
                let count = counted(response.status(), response.headers())?;
                let bytes = drain(response.into_body(), false).await?;
                Ok(Got { count, bytes })
            }
            Solo::Reqwest(c) => {
                let mut response = c.get(target.url.clone()).send().await?;
                let count = counted(response.status(), response.headers())?;
                let mut bytes = 0u64;
                while let Some(chunk) = response.chunk().await? {
                    bytes += chunk.len() as u64;
                }
                Ok(Got { count, bytes })
            }
        }
    }

    /// POSTs the file at `path` with its `Content-Length`, streamed from disk; returns
    /// its length and the count of bytes the server says it read.
    async fn upload(&self, target: &Target, path: &Path) -> Result<(u64, u64), BoxError> {
        let (sent, status, text) = match self {
            Solo::Connector(c) => {
                let body = towline::Body::from_path(path).await?;
                let len = body
                    .content_length()
                    .ok_or("a file body without a length")?;
                let request = Request::post(target.uri.clone()).body(body)?;
                let response = c.clone().oneshot(request).await?;
                let status = response.status();
                (
                    len,
                    status,
                    response.into_body().collect().await?.to_bytes(),
                )
            }
            Solo::Client(c) => {
                let body = towline::Body::from_path(path).await?;
                let len = body
                    .content_length()
                    .ok_or("a file body without a length")?;
                let response = c.post(target.uri.clone()).body(body).send().await?;
                (len, response.status(), response.bytes().await?)
            }
            Solo::HyperUtil(c) => {
                let (body, len) = FileBody::open(path).await?;
                let request = Request::post(target.uri.clone())
                    .header(CONTENT_LENGTH, len)
                    .body(Either::Right(body))?;
                let response = c.request(request).await?;
                let status = response.status();
                (
                    len,
                    status,
                    response.into_body().collect().await?.to_bytes(),
                )
            }
            Solo::Reqwest(c) => {
                let (body, len) = FileBody::open(path).await?;
                let response = c
                    .post(target.url.clone())
                    .header(CONTENT_LENGTH, len)
                    .body(reqwest::Body::wrap(body))
                    .send()
                    .await?;
                (len, response.status(), response.bytes().await?)
            }
        };
        if !status.is_success() {
            return Err(format!("the server answered the upload with {status}").into());
        }
        Ok((sent, std::str::from_utf8(&text)?.trim().parse()?))
    }
}

/// The `x-count` header of a successful response (0 without one); an error otherwise.
fn counted(status: StatusCode, headers: &HeaderMap) -> Result<u64, BoxError> {
    if !status.is_success() {
        return Err(format!("the server answered {status}").into());
    }
    let Some(value) = headers.get("x-count") else {
        return Ok(0);
    };
    Ok(value.to_str()?.parse()?)
}
