//! Benchmarks of towline against hyper-util's client and reqwest.
//!
//! Run with `cargo run -p towline-bench --release -- --quick` (a smoke test of under two
//! minutes, used by CI) or without `--quick` for the full run, which also writes
//! `BENCHMARKS.md` (`--out PATH` to choose another file).
//!
//! The driver pins itself to CPU 0 (`--no-pin` to skip) and starts a copy of itself with
//! `--server` as a child process, which inherits the pinning: the loopback hyper server
//! and the clients share one core but not a runtime. Each scenario runs every side once
//! per round, the order rotating from round to round; the tables give the median of
//! the rounds, their min–max, the client's CPU time per operation (getrusage) and the
//! ratio of towline to each peer. Scenarios 5 and 9, which report peak memory, run each
//! side in a child process of its own (`--child`, in `child.rs`). Nothing here asserts a
//! timing.

mod child;
mod measure;
mod report;
mod scenarios;
mod server;
mod sides;
mod upload;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Every error, boxed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the command line asked for.
#[derive(Debug)]
pub(crate) struct Args {
    /// Small sizes and few rounds.
    pub(crate) quick: bool,
    /// Run as the server child.
    server: bool,
    /// Where the full run writes its report.
    pub(crate) out: Option<String>,
    /// Rounds per scenario, overriding the default.
    pub(crate) rounds: Option<usize>,
    /// Skip pinning to CPU 0.
    pub(crate) no_pin: bool,
    /// Run only the scenarios whose number is listed.
    pub(crate) only: Vec<u32>,
    /// Decoded sizes of the gzip bodies (server side).
    gzip: Vec<u64>,
    /// Run as a measuring child with these arguments (everything after `--child`).
    child: Vec<String>,
}

/// The heading from which `BENCHMARKS.md` is written by hand and kept across runs.
const HAND_WRITTEN: &str = "## Against the targets";

const USAGE: &str =
    "usage: towline-bench [--quick] [--out FILE] [--rounds N] [--only 1,2,..] [--no-pin]";

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        quick: false,
        server: false,
        out: None,
        rounds: None,
        no_pin: false,
        only: Vec::new(),
        gzip: Vec::new(),
        child: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--server" => args.server = true,
            "--no-pin" => args.no_pin = true,
            "--out" => args.out = Some(it.next().ok_or("--out needs a file")?),
            "--rounds" => args.rounds = Some(it.next().ok_or("--rounds needs N")?.parse()?),
            "--only" => {
                for n in it.next().ok_or("--only needs a list")?.split(',') {
                    args.only.push(n.trim().parse()?);
                }
            }
            "--child" => args.child = it.by_ref().collect(),
            "--gzip" => args
                .gzip
                .push(it.next().ok_or("--gzip needs a size")?.parse()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    Ok(args)
}

/// The server child; it stops when its standard input closes (on drop of `stdin`).
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub(crate) port: u16,
    /// The port of its HTTPS listener (HTTP/1.1 only), on 127.0.0.1.
    pub(crate) tls_port: u16,
    /// The PEM of the CA that signed its certificate.
    pub(crate) ca_pem: String,
}

impl ServerProcess {
    fn start(gzip_sizes: &[u64]) -> Result<ServerProcess, BoxError> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("--server");
        for n in gzip_sizes {
            command.arg("--gzip").arg(n.to_string());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let (port, tls_port) = line
            .trim()
            .split_once(' ')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| format!("server printed {line:?}"))?;
        let mut ca_pem = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 || line.trim() == "END" {
                break;
            }
            ca_pem.push_str(&line);
        }
        Ok(ServerProcess {
            child,
            port,
            tls_port,
            ca_pem,
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing its standard input stops the server.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Pins this process (and so the server child it starts) to CPU 0.
fn pin() -> Result<(), BoxError> {
    use nix::sched::{CpuSet, sched_setaffinity};
    use nix::unistd::Pid;
    let mut set = CpuSet::new();
    set.set(0)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// Raises this process's limit on open descriptors to the hard limit: scenario 9 holds
/// thousands of connections open, in a child and in the server alike.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft < hard {
        if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            eprintln!("could not raise the descriptor limit from {soft} to {hard}: {e}");
        }
    }
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    raise_fd_limit();
    if !args.child.is_empty() {
        return child::main(&args.child);
    }
    if args.server {
        return server::run(&args.gzip);
    }
    let pinned = if args.no_pin {
        false
    } else {
        match pin() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("could not pin to CPU 0 ({e}); running unpinned");
                false
            }
        }
    };
    let plan = scenarios::Plan::new(&args);
    let server = ServerProcess::start(&plan.gzip_sizes())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let results = runtime.block_on(scenarios::run_all(&plan, &server))?;
    drop(server);
    let elapsed = started.elapsed();
    let markdown = report::markdown(&args, &plan, &results, pinned, elapsed);
    println!("{markdown}");
    if !args.quick || args.out.is_some() {
        let path = args
            .out
            .clone()
            .unwrap_or_else(|| "BENCHMARKS.md".to_owned());
        // The hand-written part (from its heading on) reads the figures against the
        // targets: a new run keeps it, to be brought up to date by hand.
        let kept = std::fs::read_to_string(&path)
            .ok()
            .and_then(|old| old.find(HAND_WRITTEN).map(|at| old[at..].to_owned()))
            .unwrap_or_default();
        std::fs::write(&path, format!("{markdown}\n{kept}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
