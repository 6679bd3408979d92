//! Debian's nginx, started in the foreground on 127.0.0.1 for one test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx running in the foreground on 127.0.0.1, killed and cleaned up on drop.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// The plain-HTTP port.
    pub port: u16,
    /// The HTTPS port (with HTTP/2), when started with TLS.
    pub tls_port: Option<u16>,
}

/// A certificate chain and key for nginx's HTTPS listener.
pub struct TlsFiles<'a> {
    /// The leaf and then its CA, PEM.
    pub chain_pem: &'a str,
    /// The leaf's private key, PEM.
    pub key_pem: &'a str,
}

fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    match on_path {
        Some(path) => path,
        None if Path::new("/usr/sbin/nginx").is_file() => PathBuf::from("/usr/sbin/nginx"),
        None => panic!(
            "nginx is not installed: run ./.ci/test, which installs it \
             (apt-get install nginx), then run this test again"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Nginx {
    /// Starts nginx serving `files` over plain HTTP with gzip on.
    pub fn start(files: &[(&str, &[u8])]) -> Nginx {
        Nginx::start_with(files, None, "")
    }

    /// Starts nginx serving `files` over plain HTTP and over HTTPS with HTTP/2, gzip on.
    pub fn start_tls(files: &[(&str, &[u8])], tls: TlsFiles<'_>) -> Nginx {
        Nginx::start_with(files, Some(tls), "")
    }

    /// Like [`start_tls`](Nginx::start_tls), with `directives` (such as `location`
    /// blocks) added to both servers.
    pub fn start_tls_with(files: &[(&str, &[u8])], tls: TlsFiles<'_>, directives: &str) -> Nginx {
        Nginx::start_with(files, Some(tls), directives)
    }

    fn start_with(files: &[(&str, &[u8])], tls: Option<TlsFiles<'_>>, directives: &str) -> Nginx {
        let nginx = binary();
        let dir = std::env::temp_dir().join(format!(
            "towline-nginx-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let docroot = dir.join("www");
        std::fs::create_dir_all(&docroot).expect("temp dir");
        for (name, content) in files {
            std::fs::write(docroot.join(name), content).expect("write file");
        }
        let port = free_port();
        let d = dir.display();
        let (tls_port, tls_server) = match tls {
            Some(tls) => {
                std::fs::write(dir.join("chain.pem"), tls.chain_pem).expect("write chain");
                std::fs::write(dir.join("key.pem"), tls.key_pem).expect("write key");
                let tls_port = free_port();
                let server = format!(
                    "server {{
        listen 127.0.0.1:{tls_port} ssl http2;
        ssl_certificate {d}/chain.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/www;
        {directives}
    }}"
                );
                (Some(tls_port), server)
            }
            None => (None, String::new()),
        };
        let conf = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    types {{ text/plain txt; application/json json; }}
    default_type application/octet-stream;
    log_format reuse '$connection $connection_requests $server_protocol $request_uri';
    access_log {d}/access.log reuse;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    gzip on;
    gzip_min_length 20;
    gzip_types text/plain application/json;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        {directives}
    }}
    {tls_server}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(&nginx)
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", nginx.display()));
        let mut nginx = Nginx {
            child,
            dir,
            port,
            tls_port,
        };
        nginx.wait_until_listening(port);
        if let Some(tls_port) = tls_port {
            nginx.wait_until_listening(tls_port);
        }
        nginx
    }

    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A plain-HTTP URL on this nginx.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTPS URL on this nginx, with `host` as the host part.
    pub fn https_url(&self, host: &str, path: &str) -> String {
        let port = self.tls_port.expect("started with TLS");
        format!("https://{host}:{port}{path}")
    }

    /// The access log so far: one line per request, `connection requests protocol uri`.
    pub fn access_log(&self) -> Vec<(u64, u64, String, String)> {
        let text = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut f = line.split(' ');
                Some((
                    f.next()?.parse().ok()?,
                    f.next()?.parse().ok()?,
                    f.next()?.to_owned(),
                    f.next()?.to_owned(),
                ))
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
