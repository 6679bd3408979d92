//! Each failure class exits with curl's number and says so in one line on stderr.

mod support;

use std::time::Duration;

use support::{TempDir, refused_port, towline};
use towline_test::tls::TestCa;
use towline_test::{Fault, Reply, TestServer};

/// Asserts `towline: (code) …` is the only line on stderr.
#[track_caller]
fn assert_one_line(stderr: &str, code: i32) {
    let prefix = format!("towline: ({code}) ");
    assert!(stderr.starts_with(&prefix), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_failure_is_6() {
    let run = towline(&["http://no-such-host.invalid/"]).await;
    run.assert_code(6);
    assert_one_line(&run.stderr, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_7() {
    let port = refused_port();
    let run = towline(&[&format!("http://127.0.0.1:{port}/")]).await;
    run.assert_code(7);
    assert_one_line(&run.stderr, 7);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );

    // -s silences it, -S brings it back.
    let run = towline(&["-s", &format!("http://127.0.0.1:{port}/")]).await;
    run.assert_code(7);
    assert_eq!(run.stderr, "");
    let run = towline(&["-sS", &format!("http://127.0.0.1:{port}/")]).await;
    run.assert_code(7);
    assert_one_line(&run.stderr, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalling_server_with_max_time_is_28() {
    let server = TestServer::start(|_| {
        Reply::text("late").fault(Fault::SlowHeaders(Duration::from_secs(60)))
    })
    .await;
    let run = towline(&["-m", "0.5", &server.url("/stall")]).await;
    run.assert_code(28);
    assert_one_line(&run.stderr, 28);
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);

    // A body that stalls half way counts as well.
    let server = TestServer::start(|_| {
        Reply::text(vec![b'x'; 64]).fault(Fault::SlowBody {
            chunk: 8,
            delay: Duration::from_millis(400),
        })
    })
    .await;
    let run = towline(&["-m", "1", &server.url("/slow-body")]).await;
    run.assert_code(28);
    assert!(run.stdout.len() < 64, "the body was cut short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_60_and_k_or_cacert_make_it_0() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.leaf(&["localhost", "127.0.0.1"]))
        .handler(|_| Reply::text("secure"))
        .start()
        .await
        .expect("server");
    let url = server.url("/");

    let run = towline(&[&url]).await;
    run.assert_code(60);
    assert_one_line(&run.stderr, 60);
    assert!(run.stderr.contains("unknown authority"), "{}", run.stderr);

    let run = towline(&["-k", &url]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "secure");

    let dir = TempDir::new("cacert");
    let ca_file = dir.file("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write");
    let run = towline(&["--cacert", &ca_file, &url]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "secure");

    // Another CA's certificate in --cacert: still untrusted.
    let other = dir.file("other.pem");
    std::fs::write(&other, TestCa::new().cert_pem()).expect("write");
    towline(&["--cacert", &other, &url]).await.assert_code(60);

    // A CA file that is missing or holds no certificate: 77.
    towline(&["--cacert", &dir.file("none.pem"), &url])
        .await
        .assert_code(77);
    let junk = dir.file("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    towline(&["--cacert", &junk, &url]).await.assert_code(77);

    // A client certificate that cannot be used: 58.
    towline(&["--cert", &junk, &url]).await.assert_code(58);
    towline(&["--cert", &dir.file("none.pem"), &url])
        .await
        .assert_code(58);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_404_is_22_without_a_body() {
    let server = TestServer::start(|_| Reply::new(404).body("not here")).await;
    let run = towline(&["-f", &server.url("/missing")]).await;
    run.assert_code(22);
    assert_one_line(&run.stderr, 22);
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    // Without -f a 404 is a success with its body, as in curl.
    let run = towline(&[&server.url("/missing")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "not here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_18() {
    let server = TestServer::start(|req| match req.path() {
        "/chunked" => Reply::text("hello world")
            .chunked(3)
            .fault(Fault::CloseMidBody { after: 6 }),
        _ => Reply::text("hello world").fault(Fault::CloseMidBody { after: 5 }),
    })
    .await;
    let run = towline(&[&server.url("/length")]).await;
    run.assert_code(18);
    assert_one_line(&run.stderr, 18);
    assert_eq!(run.stdout_text(), "hello", "what arrived is written");
    towline(&[&server.url("/chunked")]).await.assert_code(18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_gzip_is_61() {
    let mut coded = support::gzip(&b"some text that will not survive".repeat(50));
    let middle = coded.len() / 2;
    for b in &mut coded[middle..middle + 8] {
        *b ^= 0x5a;
    }
    let server =
        TestServer::start(move |_| Reply::text(coded.clone()).header("Content-Encoding", "gzip"))
            .await;
    let run = towline(&["--compressed", &server.url("/z")]).await;
    run.assert_code(61);
    assert_one_line(&run.stderr, 61);
    // Without --compressed the bytes are not decoded, so nothing is wrong.
    towline(&[&server.url("/z")]).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_reply_is_52() {
    let server = TestServer::start(|_| Reply::text("never").fault(Fault::CloseWithoutAnswer)).await;
    let run = towline(&[&server.url("/")]).await;
    run.assert_code(52);
    assert_one_line(&run.stderr, 52);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_is_56_and_a_garbled_head_is_8() {
    let server = TestServer::start(|req| match req.path() {
        "/reset" => Reply::text("never").fault(Fault::ResetWithoutAnswer),
        _ => Reply::text("never").fault(Fault::RawThenClose(
            b"XTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                .to_vec()
                .into(),
        )),
    })
    .await;
    let run = towline(&[&server.url("/reset")]).await;
    run.assert_code(56);
    assert_one_line(&run.stderr, 56);
    let run = towline(&[&server.url("/garbled")]).await;
    run.assert_code(8);
    assert_one_line(&run.stderr, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_3_and_other_schemes_1() {
    for bad in [
        "http://",
        "http://exa mple.test/",
        "http://[::1/",
        "://nothing",
    ] {
        let run = towline(&[bad]).await;
        run.assert_code(3);
        assert_one_line(&run.stderr, 3);
    }
    towline(&["ftp://127.0.0.1/"]).await.assert_code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_is_2_and_never_a_panic() {
    let cases: &[&[&str]] = &[
        &[],
        &["--no-such-option", "http://127.0.0.1/"],
        &["-H", "nocolon", "http://127.0.0.1/"],
        &["-H", "bad name: x", "http://127.0.0.1/"],
        &["-X", "B@D", "http://127.0.0.1/"],
        &["--connect-timeout", "soon", "http://127.0.0.1/"],
        &["-m", "-1", "http://127.0.0.1/"],
        &["-I", "-d", "x", "http://127.0.0.1/"],
        &["-o", "a", "-o", "b", "http://127.0.0.1/"],
        &["-x", "ftp://proxy.test", "http://127.0.0.1/"],
        &["-L", "--max-redirs", "-5", "http://127.0.0.1/"],
        &["--key", "k.pem", "http://127.0.0.1/"],
    ];
    for args in cases {
        let run = towline(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?} says why");
    }
    // --help and --version are not errors.
    towline(&["--help"]).await.assert_code(0);
    towline(&["--version"]).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_upload_is_26_and_unwritable_output_is_23() {
    let server = TestServer::start(|_| Reply::text("ok")).await;
    let dir = TempDir::new("io-errors");
    let run = towline(&[
        "--data-binary",
        &format!("@{}", dir.file("absent.bin")),
        &server.url("/"),
    ])
    .await;
    run.assert_code(26);
    assert_one_line(&run.stderr, 26);
    assert_eq!(server.request_count(), 0, "nothing is sent");

    let run = towline(&["-o", &dir.file("no/such/dir/out"), &server.url("/")]).await;
    run.assert_code(23);
    assert_one_line(&run.stderr, 23);

    // -O on a URL without a file name.
    towline(&["-O", &server.url("/")]).await.assert_code(23);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_urls_exit_with_the_last_ones_code() {
    let server = TestServer::start(|_| Reply::text("ok")).await;
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let run = towline(&[&refused, &server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "ok");
    assert_one_line(&run.stderr, 7);
    towline(&[&server.url("/"), &refused]).await.assert_code(7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_proxy_is_7_and_unresolvable_proxy_is_5() {
    let server = TestServer::start(|_| Reply::text("ok")).await;
    let proxy = format!("http://127.0.0.1:{}", refused_port());
    towline(&["-x", &proxy, &server.url("/")])
        .await
        .assert_code(7);
    let run = towline(&["-x", "http://no-such-proxy.invalid:3128", &server.url("/")]).await;
    run.assert_code(5);
    assert_one_line(&run.stderr, 5);
    // --noproxy lets the host through directly.
    let run = towline(&["-x", &proxy, "--noproxy", "127.0.0.1", &server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "ok");
}
