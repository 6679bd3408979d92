//! Real proxies from Debian, started on 127.0.0.1 for one test and killed on drop:
//! squid, tinyproxy and microsocks; and an in-process TLS front that turns one of them
//! into an `https://` proxy.
//!
//! `./.ci/test` installs them. A missing binary fails the test with a message saying
//! so; it never passes silently.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A proxy process listening on `127.0.0.1:port`, with its files in a temp dir.
pub(crate) struct Daemon {
    name: &'static str,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    pub(crate) port: u16,
    /// squid's shared-memory segments (`/dev/shm/<prefix>-*`), which a killed squid
    /// leaves behind.
    shm_prefix: Option<String>,
}

impl Daemon {
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `scheme://[userinfo@]127.0.0.1:port`.
    pub(crate) fn uri(&self, scheme: &str, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(userinfo) => format!("{scheme}://{userinfo}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// What the proxy logged so far, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn spawn(
        name: &'static str,
        dir: PathBuf,
        log: PathBuf,
        port: u16,
        shm_prefix: Option<String>,
        command: &mut Command,
    ) -> Daemon {
        let out = std::fs::File::create(dir.join("stdout.log")).expect("stdout log");
        let err = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut daemon = Daemon {
            name,
            child,
            dir,
            log,
            port,
            shm_prefix,
        };
        daemon.wait_until_listening();
        daemon
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening:\n{}\n{}\n{}",
                    self.name,
                    std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default(),
                    std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default(),
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start listening on {}:\n{}",
                self.name,
                self.addr(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(prefix) = &self.shm_prefix {
            let prefix = format!("{prefix}-");
            for entry in std::fs::read_dir("/dev/shm")
                .into_iter()
                .flatten()
                .flatten()
            {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The path of `binary`, or a failure telling how to install it.
fn binary(binary: &str, package: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            ["/usr/sbin", "/usr/bin", "/sbin"]
                .iter()
                .map(|dir| Path::new(dir).join(binary))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{binary} is not installed: run ./.ci/test, which installs it \
                 (apt-get install {package}), then run this test again"
            )
        })
}

fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "towline-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether this process runs as root: its real uid in `/proc/self/status` is 0.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            == Some("0")
    })
}

/// squid 5 forwarding http and tunnelling (`CONNECT`) to `connect_ports` only, from
/// loopback clients, without a cache. Started as root (as on CI) it drops to `proxy`,
/// which then owns its run folder; started as anyone else it stays that user.
pub(crate) fn squid(connect_ports: &[u16]) -> Daemon {
    let squid = binary("squid", "squid");
    let dir = temp_dir("squid");
    let port = free_port();
    let d = dir.display();
    let ports: Vec<String> = connect_ports.iter().map(u16::to_string).collect();
    let as_root = running_as_root();
    let conf = format!(
        "http_port 127.0.0.1:{port}
acl towline_clients src 127.0.0.1/32
acl SSL_ports port {ports}
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow towline_clients
http_access deny all
cache deny all
{effective_user}pid_filename {d}/squid.pid
access_log stdio:{d}/access.log
cache_log {d}/cache.log
cache_store_log none
coredump_dir {d}
netdb_filename none
pinger_enable off
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
",
        effective_user = if as_root {
            "cache_effective_user proxy\n"
        } else {
            ""
        },
        ports = if ports.is_empty() {
            "1".to_owned()
        } else {
            ports.join(" ")
        },
    );
    let conf_path = dir.join("squid.conf");
    std::fs::write(&conf_path, conf).expect("write squid.conf");
    if as_root {
        let owned = Command::new("chown")
            .args(["-R", "proxy:proxy"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(owned.success(), "chown proxy {}", dir.display());
    }
    let log = dir.join("cache.log");
    // squid names its shared-memory segments after the service name (`/squid-…shm`
    // by default): two squids started at once by parallel tests collide on them
    // ("shm_open … File exists"). A service name per instance keeps them apart.
    let service = format!("towline{}x{port}", std::process::id());
    Daemon::spawn(
        "squid",
        dir,
        log,
        port,
        Some(service.clone()),
        Command::new(squid)
            .arg("-N")
            .arg("-n")
            .arg(&service)
            .arg("-f")
            .arg(&conf_path),
    )
}

/// tinyproxy in the foreground, allowing `CONNECT` to `connect_ports`, with Basic
/// authentication when `auth` is given.
pub(crate) fn tinyproxy(connect_ports: &[u16], auth: Option<(&str, &str)>) -> Daemon {
    let tinyproxy = binary("tinyproxy", "tinyproxy");
    let dir = temp_dir("tinyproxy");
    let port = free_port();
    let d = dir.display();
    let mut conf = format!(
        "Port {port}
Listen 127.0.0.1
Timeout 30
Allow 127.0.0.1
MaxClients 32
LogLevel Info
LogFile \"{d}/tinyproxy.log\"
PidFile \"{d}/tinyproxy.pid\"
"
    );
    for p in connect_ports {
        conf.push_str(&format!("ConnectPort {p}\n"));
    }
    if let Some((user, pass)) = auth {
        conf.push_str(&format!("BasicAuth {user} {pass}\n"));
    }
    let conf_path = dir.join("tinyproxy.conf");
    std::fs::write(&conf_path, conf).expect("write tinyproxy.conf");
    let log = dir.join("tinyproxy.log");
    Daemon::spawn(
        "tinyproxy",
        dir,
        log,
        port,
        None,
        Command::new(tinyproxy).arg("-d").arg("-c").arg(&conf_path),
    )
}

/// microsocks, a SOCKS5 server, with username and password when `auth` is given.
pub(crate) fn microsocks(auth: Option<(&str, &str)>) -> Daemon {
    let microsocks = binary("microsocks", "microsocks");
    let dir = temp_dir("microsocks");
    let port = free_port();
    let mut command = Command::new(microsocks);
    command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, pass)) = auth {
        command.args(["-u", user, "-P", pass]);
    }
    let log = dir.join("stderr.log");
    Daemon::spawn("microsocks", dir, log, port, None, &mut command)
}

/// A TLS front on `127.0.0.1`: accepts TLS with `config` and relays the plain bytes to
/// `backend`, turning a plain proxy into an `https://` one. Stops on drop.
pub(crate) struct TlsFront {
    pub(crate) port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    pub(crate) async fn start(
        config: Arc<tokio_rustls::rustls::ServerConfig>,
        backend: SocketAddr,
    ) -> TlsFront {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsFront { port, task }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
