//! Run with `cargo run -p towline-examples --example connect_to`.
//!
//! A dialer of your own, doing what curl's `--connect-to HOST1:PORT1:HOST2:PORT2` does:
//! requests keep their URI (so the `Host` header, TLS name and cookies are those of
//! `api.example.test`), but the TCP connection goes to another address. Twisted does
//! this with `Agent.usingEndpointFactory`; here a dialer is any
//! `tower::Service<Destination>` that returns a stream.
//!
//! The example starts a server on 127.0.0.1 and maps `api.example.test:80` to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower::{Service, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{Connector, Destination, TcpConnecting, TcpDialer};
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sends connections for mapped `(host, port)` pairs to other addresses, and dials
/// everything else as usual.
#[derive(Clone, Debug)]
struct ConnectTo {
    map: Arc<HashMap<(String, u16), SocketAddr>>,
    tcp: TcpDialer,
}

impl Service<Destination> for ConnectTo {
    type Response = tokio::net::TcpStream;
    type Error = towline::connect::DialError;
    type Future = TcpConnecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx)
    }

    fn call(&mut self, dst: Destination) -> TcpConnecting {
        let key = (dst.host().to_ascii_lowercase(), dst.port());
        let dst = match self.map.get(&key) {
            Some(addr) => {
                println!("dialing {dst} at {addr} instead");
                Destination::new(dst.scheme().clone(), addr.ip().to_string(), addr.port())
            }
            None => dst,
        };
        self.tcp.call(dst)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let server = TestServer::start(|req| {
        let host = req.header("host").unwrap_or("?").to_owned();
        Reply::text(format!("served {} for Host: {host}\n", req.path()))
    })
    .await;

    let map = HashMap::from([(("api.example.test".to_owned(), 80), server.addr())]);
    let dialer = ConnectTo {
        map: Arc::new(map),
        tcp: TcpDialer::new(),
    };
    let connector = Connector::builder().build_with_dialer(dialer);

    for path in ["/v1/status", "/v1/users"] {
        let request = Request::get(format!("http://api.example.test{path}")).body(Body::empty())?;
        let response = connector.clone().oneshot(request).await?;
        let body = read_body(response.into_body()).await?;
        let body = String::from_utf8_lossy(&body);
        print!("{body}");
        check(
            body == format!("served {path} for Host: api.example.test\n"),
            "the local server to answer for api.example.test",
        )?;
    }
    let stats = connector.pool_stats();
    println!(
        "{} connection opened, {} reused: the pool keys on the URI's host, not the address",
        stats.opened, stats.reused
    );
    check(
        stats.opened == 1 && stats.reused == 1,
        "1 connection opened and reused once",
    )?;
    server.assert_no_panics();
    Ok(())
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
