//! `--cacert` with the server's own certificate, as a developer with a local HTTPS
//! server tries first: a self-signed one (`CA:TRUE`, as `openssl req -x509` makes it)
//! or a leaf of a CA nobody trusts is trusted as itself; another one, or one for
//! another name, still exits 60.

mod support;

use support::{TempDir, towline};
use towline_test::tls::{Leaf, TestCa};
use towline_test::{Reply, TestServer};

async fn serving(leaf: &Leaf) -> TestServer {
    TestServer::builder()
        .tls(leaf)
        .handler(|_| Reply::text("secure"))
        .start()
        .await
        .expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_certificate_in_cacert_is_trusted() {
    let dir = TempDir::new("cacert-own");
    for (what, leaf) in [
        ("self-signed CA:TRUE", TestCa::ca_as_leaf(&["localhost"])),
        (
            "a leaf of an unknown CA",
            TestCa::new().leaf(&["localhost"]),
        ),
    ] {
        let server = serving(&leaf).await;
        let url = server.url_for_host("localhost", "/");
        let file = dir.file("server.pem");
        std::fs::write(&file, &leaf.cert_pem).expect("write");
        let run = towline(&["--cacert", &file, &url]).await;
        run.assert_code(0);
        assert_eq!(run.stdout_text(), "secure", "{what}");

        // Without it, untrusted.
        let run = towline(&[&url]).await;
        run.assert_code(60);
        // Another self-signed certificate: untrusted.
        let other = dir.file("other.pem");
        std::fs::write(&other, TestCa::ca_as_leaf(&["localhost"]).cert_pem).expect("write");
        towline(&["--cacert", &other, &url]).await.assert_code(60);
        assert_eq!(server.request_count(), 1, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_certificate_for_another_name_is_60() {
    let dir = TempDir::new("cacert-name");
    let leaf = TestCa::ca_as_leaf(&["other.test"]);
    let server = serving(&leaf).await;
    let file = dir.file("server.pem");
    std::fs::write(&file, &leaf.cert_pem).expect("write");
    let run = towline(&["--cacert", &file, &server.url_for_host("localhost", "/")]).await;
    run.assert_code(60);
    assert!(run.stderr.contains("host name"), "{}", run.stderr);
    assert_eq!(server.request_count(), 0);
}
