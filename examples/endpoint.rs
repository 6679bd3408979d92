//! Endpoints: reaching an HTTP server on a Unix domain socket, the way Docker's API is
//! used, by giving the connector another `Dial` service (Twisted's
//! `Agent.usingEndpointFactory`).
//!
//! Run with `cargo run -p towline-examples --example endpoint`.

#[cfg(not(unix))]
fn main() {
    println!("this example serves HTTP on a Unix domain socket, so it runs on Unix only");
}

#[cfg(unix)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::convert::Infallible;
    use tower::ServiceExt;
    use towline::body::{Body, read_body};
    use towline::connect::{ConnectionInfo, Connector, UnixDialer};

    // A small HTTP server on a socket file, standing in for a daemon's API.
    let dir = std::env::temp_dir().join(format!("towline-endpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("api.sock");
    let listener = tokio::net::UnixListener::bind(&socket)?;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let answer = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let text = format!("the daemon answers {} {}\n", req.method(), req.uri());
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(text))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    });
    println!("a server listens on {}", socket.display());

    // Every request goes to the socket, whatever the URI's host says.
    let connector = Connector::builder().build_with_dialer(UnixDialer::new(&socket));
    for path in ["/v1.43/version", "/v1.43/containers/json?all=1"] {
        let request = Request::get(format!("http://localhost{path}")).body(Body::empty())?;
        let response = connector.clone().oneshot(request).await?;
        let reused = response
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|info| info.reused);
        let body = read_body(response.into_body()).await?;
        print!(
            "GET {path} (pooled connection reused: {reused}): {}",
            String::from_utf8_lossy(&body)
        );
    }

    server.abort();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
