//! An axum app that calls an upstream service through one shared `towline::Client`.
//!
//! Run with `cargo run -p towline-examples --example axum`.
//!
//! The `Client` is cheap to clone and its clones share one connection pool, so it is
//! made once and kept in the app's state; every request handled reuses the same
//! pooled connections to the upstream. The upstream here is a `towline_test` server on
//! 127.0.0.1 that knows the weather in two cities. The example starts the axum server
//! on 127.0.0.1 (a free port), sends it a few requests with another `Client`, prints
//! the answers, and shuts the server down gracefully through a oneshot channel.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use towline::Client;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    /// One client for the whole app.
    upstream: Client,
    /// `http://127.0.0.1:PORT`, the upstream's address.
    upstream_base: String,
}

/// `GET /weather/{city}`: asks the upstream for the forecast and wraps its answer.
async fn weather(
    State(state): State<AppState>,
    Path(city): Path<String>,
) -> Result<String, (StatusCode, String)> {
    let url = format!("{}/forecast/{city}", state.upstream_base);
    let bad_gateway = |err: towline::Error| (StatusCode::BAD_GATEWAY, format!("upstream: {err}"));
    let response = state.upstream.get(url).send().await.map_err(bad_gateway)?;
    let status = response.status();
    let reused = response.connection_info().is_some_and(|info| info.reused);
    let text = response.text().await.map_err(bad_gateway)?;
    match status {
        StatusCode::OK => Ok(format!(
            "{city}: {text} (upstream connection reused: {reused})"
        )),
        StatusCode::NOT_FOUND => Err((StatusCode::NOT_FOUND, format!("no forecast for {city}"))),
        other => Err((
            StatusCode::BAD_GATEWAY,
            format!("upstream answered {other}"),
        )),
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let upstream = TestServer::start(|req| match req.path() {
        "/forecast/Amsterdam" => Reply::text("rain, 12 °C"),
        "/forecast/Lisbon" => Reply::text("sun, 24 °C"),
        _ => Reply::new(404),
    })
    .await;

    let state = AppState {
        upstream: Client::builder().user_agent("weather-app/1.0").build()?,
        upstream_base: format!("http://{}", upstream.addr()),
    };
    let app = Router::new()
        .route("/weather/{city}", get(weather))
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // Either a message or the sender's drop means: stop.
                let _ = stop.await;
            })
            .await
    });
    println!("axum app on http://{addr}, upstream on {}", upstream.addr());

    let client = Client::new();
    for (city, expected_status, expected_text) in [
        ("Amsterdam", StatusCode::OK, "Amsterdam: rain, 12 °C"),
        ("Lisbon", StatusCode::OK, "Lisbon: sun, 24 °C"),
        ("Amsterdam", StatusCode::OK, "Amsterdam: rain, 12 °C"),
        (
            "Atlantis",
            StatusCode::NOT_FOUND,
            "no forecast for Atlantis",
        ),
    ] {
        let response = client
            .get(format!("http://{addr}/weather/{city}"))
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        println!("GET /weather/{city:<10} -> {status}: {text}");
        check(
            status == expected_status && text.starts_with(expected_text),
            &format!("{expected_status} \"{expected_text}\" for {city}"),
        )?;
    }

    let stats = state.upstream.pool_stats();
    println!(
        "the app's client opened {} connection(s) to the upstream and reused them {} times",
        stats.opened, stats.reused
    );
    check(
        stats.opened == 1 && stats.reused == 3,
        "the app's 4 upstream requests to share 1 connection",
    )?;
    let seen = upstream.requests();
    println!(
        "the upstream saw User-Agent {:?}",
        seen.first().and_then(|r| r.header("user-agent"))
    );
    check(
        seen.len() == 4
            && seen
                .iter()
                .all(|r| r.header("user-agent") == Some("weather-app/1.0")),
        "the upstream to see the app's User-Agent on all 4 requests",
    )?;

    // Our own keep-alive connection to the app would hold the graceful shutdown open
    // until it closes, so close it first.
    client.close_idle();
    let _ = shutdown.send(());
    server.await??;
    println!("the axum server has shut down");

    upstream.assert_no_panics();
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
