//! The `native-roots` feature: the system's roots, as `rustls-native-certs` finds them,
//! verify a server. `SSL_CERT_FILE` points those roots at a CA generated here; since
//! the environment is read once per process and changing it in a running test
//! process is unsound, the client runs in a child process: this test binary again,
//! running only [`child_fetches_with_the_system_roots`].

use std::process::Command;

use http::Request;
use tower::ServiceExt;
use towline::body::{Body, read_body};
use towline::connect::Connector;
use towline::tls::TlsConfig;
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

/// The URL the child fetches; set only for the child.
const URL_VAR: &str = "TOWLINE_NATIVE_ROOTS_URL";

/// Runs the child with `SSL_CERT_FILE=roots` against `url`: its exit status and output.
async fn run_child(roots: &std::path::Path, url: String) -> (bool, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let roots = roots.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(exe)
            .args([
                "--exact",
                "child_fetches_with_the_system_roots",
                "--ignored",
                "--nocapture",
            ])
            .env("SSL_CERT_FILE", &roots)
            .env_remove("SSL_CERT_DIR")
            .env(URL_VAR, url)
            .output()
            .expect("run the child");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .expect("the child's thread")
}

#[tokio::test]
async fn the_system_roots_verify_a_server_they_trust_and_only_that() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .handler(|req| Reply::text(format!("hello {}", req.path())))
        .tls(&ca.leaf(&["localhost"]))
        .start()
        .await
        .expect("server");
    let url = server.url_for_host("localhost", "/native");
    let dir = std::env::temp_dir().join(format!("towline-native-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let trusted = dir.join("trusted.pem");
    std::fs::write(&trusted, ca.cert_pem()).expect("write the CA");
    let stranger = dir.join("stranger.pem");
    std::fs::write(&stranger, TestCa::new().cert_pem()).expect("write another CA");

    let (ok, output) = run_child(&trusted, url.clone()).await;
    assert!(
        ok,
        "the child failed with the server's CA as a system root:\n{output}"
    );
    assert!(output.contains("child: 200 hello /native"), "{output}");

    let (ok, output) = run_child(&stranger, url).await;
    assert!(!ok, "another CA must not verify the server:\n{output}");
    assert!(output.contains("unknown authority"), "{output}");

    assert_eq!(
        server.request_count(),
        1,
        "only the trusted child got through"
    );
    server.assert_no_panics();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child: fetches the URL it was given, trusting the system's roots alone.
#[tokio::test]
#[ignore = "run by the_system_roots_verify_a_server_they_trust_and_only_that"]
async fn child_fetches_with_the_system_roots() {
    let Ok(url) = std::env::var(URL_VAR) else {
        panic!("{URL_VAR} is not set: this test runs only as a child of another");
    };
    let tls = TlsConfig::builder()
        .webpki_roots(false)
        .native_roots(true)
        .build()
        .expect("a config with the system's roots");
    let connector = Connector::builder().tls(tls).build();
    let request = Request::get(url.as_str())
        .body(Body::empty())
        .expect("request");
    match connector.oneshot(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = read_body(response.into_body()).await.expect("body");
            println!("child: {status} {}", String::from_utf8_lossy(&body));
        }
        Err(err) => panic!("child: {}", err.report()),
    }
}
