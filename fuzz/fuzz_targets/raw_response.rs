//! Raw bytes from a hostile server: a `Connector` whose connections are in-memory
//! pipes to a peer that sends the fuzz input and closes.
//!
//! Input: the server's bytes, sent on every connection once a request head arrived. Two GETs go out one after the
//! other, so a connection the first leaves in the pool (with whatever bytes follow its
//! response) is reused by the second.
//!
//! Invariants: each request ends (no hang), its body is read to at most 1 MiB, and once
//! responses and bodies are gone no connection is counted in use.

#![no_main]

use http::Request;
use tower::ServiceExt;
use towline::body::Body;
use towline::connect::Connector;
use towline_fuzz::{HANG, ScriptedPeer, runtime};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let peer = ScriptedPeer::new(&[], Some(data));
    let connector = Connector::builder().build_with_dialer(peer.clone());
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..2 {
            let request = Request::get("http://origin.test/")
                .body(Body::empty())
                .expect("request");
            let outcome = tokio::time::timeout(HANG, async {
                let response = connector.clone().oneshot(request).await?;
                towline::body::read_body_limited(response.into_body(), 1 << 20).await
            })
            .await;
            let outcome = outcome.expect("a request to the raw server hung");
            towline_fuzz::debug(|| format!("outcome: {outcome:?}"));
            if let Ok(body) = outcome {
                assert!(body.len() <= 1 << 20, "read {} bytes", body.len());
            }
            // Releasing a connection may take a few turns of the runtime.
            for _ in 0..100 {
                if connector.pool_stats().in_use == 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert_eq!(
                connector.pool_stats().in_use,
                0,
                "a connection still in use: {:?}",
                connector.pool_stats()
            );
        }
    });
    assert!(peer.dialed().len() <= 2, "dialed {:?}", peer.dialed());
});
