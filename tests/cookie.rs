//! The cookie layer under the redirect layer on the connector, against loopback
//! servers; cookies.txt files exchanged with Debian's curl; one jar shared by many
//! tasks under load.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{Connector, ResponseBody};
use towline::cookie::{CookieLayer, Cookies, CookiesTxt, Jar};
use towline::redirect::{FollowRedirect, FollowRedirectLayer};
use towline_test::{RecordedRequest, Reply, TestServer};

const WAIT: Duration = Duration::from_secs(10);

type Client = FollowRedirect<Cookies<Connector>>;

/// The stack of DESIGN.md, from redirects down: each hop passes the cookie layer.
fn client(jar: &Jar) -> Client {
    ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(CookieLayer::new(jar.clone()))
        .service(Connector::new())
}

async fn get(client: &Client, url: &str) -> Response<ResponseBody> {
    let request = Request::get(url).body(Body::empty()).expect("request");
    tokio::time::timeout(WAIT, client.clone().oneshot(request))
        .await
        .expect("no hang")
        .expect("response")
}

async fn text(client: &Client, url: &str) -> String {
    let response = get(client, url).await;
    let body = read_body(response.into_body()).await.expect("body");
    String::from_utf8(body.to_vec()).expect("UTF-8")
}

/// (path, Cookie header) of every request the server received.
fn cookies_seen(server: &TestServer) -> Vec<(String, Option<String>)> {
    server
        .requests()
        .iter()
        .map(|r| (r.path().to_owned(), r.header("cookie").map(str::to_owned)))
        .collect()
}

/// Answers with the request's Cookie header, or `none`.
fn echo(req: &RecordedRequest) -> Reply {
    Reply::text(req.header("cookie").unwrap_or("none").to_owned())
}

fn set(pairs: &str) -> BTreeSet<String> {
    pairs
        .split("; ")
        .filter(|p| !p.is_empty() && *p != "none")
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------
// Through the layer on a real loopback server
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_cookie_set_on_a_redirect_hop_is_sent_on_the_next() {
    let server = TestServer::start(|req| match req.path() {
        "/login" => Reply::new(302)
            .header("Location", "/step")
            .header("Set-Cookie", "session=abc; Path=/; HttpOnly"),
        "/step" => Reply::new(303)
            .header("Location", "/home/")
            .header("Set-Cookie", "step=2; Path=/home"),
        _ => echo(req),
    })
    .await;
    let jar = Jar::new();
    let client = client(&jar);

    let body = text(&client, &server.url("/login")).await;
    assert_eq!(body, "step=2; session=abc", "longer path first");
    assert_eq!(
        cookies_seen(&server),
        [
            ("/login".to_owned(), None),
            ("/step".to_owned(), Some("session=abc".to_owned())),
            ("/home/".to_owned(), Some("step=2; session=abc".to_owned())),
        ]
    );
    assert_eq!(jar.len(), 2);
}

#[tokio::test]
async fn a_redirect_to_another_host_gets_that_hosts_cookies_only() {
    // One server reached as 127.0.0.1 and as localhost: two hosts for cookies.
    let server = TestServer::start(|req| match (req.header("host"), req.path()) {
        (Some(host), "/go") if host.starts_with("127.0.0.1") => {
            let port = host.rsplit(':').next().unwrap_or_default();
            Reply::new(302)
                .header("Location", format!("http://localhost:{port}/land"))
                .header("Set-Cookie", "ip_only=1; Path=/")
        }
        (Some(host), "/seed") if host.starts_with("localhost") => {
            Reply::ok().header("Set-Cookie", "named=1; Path=/")
        }
        _ => echo(req),
    })
    .await;
    let jar = Jar::new();
    let client = client(&jar);
    text(&client, &server.url_for_host("localhost", "/seed")).await;

    let body = text(&client, &server.url("/go")).await;
    assert_eq!(body, "named=1", "127.0.0.1's cookie stays on 127.0.0.1");

    // A caller's own Cookie header goes to the first origin only; the jar fills in
    // for the other one.
    let request = Request::get(server.url("/go"))
        .header("cookie", "mine=1")
        .body(Body::empty())
        .expect("request");
    let response = client.clone().oneshot(request).await.expect("response");
    let body = read_body(response.into_body()).await.expect("body");
    assert_eq!(body, "named=1");
    let seen = cookies_seen(&server);
    assert_eq!(seen[seen.len() - 2].1.as_deref(), Some("mine=1"));
}

#[tokio::test]
async fn a_path_scoped_cookie_is_not_sent_outside_its_path() {
    let server = TestServer::start(|req| match req.path() {
        "/app/login" => Reply::ok()
            .header("Set-Cookie", "app=1; Path=/app")
            .header("Set-Cookie", "all=1; Path=/"),
        "/docs/page" => Reply::ok().header("Set-Cookie", "doc=1"),
        _ => echo(req),
    })
    .await;
    let jar = Jar::new();
    let client = client(&jar);
    text(&client, &server.url("/app/login")).await;
    text(&client, &server.url("/docs/page")).await;

    let table = [
        ("/app", "app=1; all=1"),
        ("/app/", "app=1; all=1"),
        ("/app/deep/er?q=1", "app=1; all=1"),
        ("/application", "all=1"),
        ("/App", "all=1"),
        ("/", "all=1"),
        ("/other", "all=1"),
        // `doc` took the default path, /docs.
        ("/docs/other", "doc=1; all=1"),
        ("/docs", "doc=1; all=1"),
        ("/doc", "all=1"),
        ("/docsx", "all=1"),
    ];
    for (path, want) in table {
        assert_eq!(text(&client, &server.url(path)).await, want, "{path}");
    }
}

// ---------------------------------------------------------------------------------
// Interop with Debian's curl
// ---------------------------------------------------------------------------------

fn curl() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("curl"))
            .find(|p| p.is_file())
    });
    match on_path {
        Some(path) => path,
        None if Path::new("/usr/bin/curl").is_file() => PathBuf::from("/usr/bin/curl"),
        None => panic!(
            "curl is not installed: run ./.ci/test, which installs it \
             (apt-get install curl), then run this test again"
        ),
    }
}

/// Runs curl with `args` off the runtime's thread (the server runs on it), and
/// fails the test on a non-zero exit.
async fn run_curl(args: Vec<String>) {
    let curl = curl();
    let shown = args.join(" ");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&curl)
            .args([
                "--silent",
                "--show-error",
                "--noproxy",
                "*",
                "--max-time",
                "10",
            ])
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", curl.display()))
    })
    .await
    .expect("curl thread");
    assert!(
        output.status.success(),
        "curl {shown}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("towline-cookie-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cookies `/set` hands out: every kind cookies.txt distinguishes.
fn cookie_server() -> impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static {
    |req| match req.path() {
        "/set" => Reply::ok()
            .header("Set-Cookie", "plain=1")
            .header("Set-Cookie", "dom=2; Domain=127.0.0.1")
            .header("Set-Cookie", "scoped=3; Path=/scoped")
            .header("Set-Cookie", "ho=4; HttpOnly")
            .header("Set-Cookie", "persist=5; Max-Age=3600")
            .header(
                "Set-Cookie",
                "expires=6; Expires=Fri, 31 Dec 2100 23:59:59 GMT",
            )
            .header("Set-Cookie", "quoted=\"a b\"")
            // curl takes this over http from 127.0.0.1, which it counts as secure;
            // towline refuses it (and would send it over https only).
            .header("Set-Cookie", "sec=8; Secure"),
        _ => echo(req),
    }
}

#[tokio::test]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn a_jar_curl_wrote_loads_and_its_cookies_are_sent() {
    let server = TestServer::start(cookie_server()).await;
    let dir = TempDir::new("from-curl");
    let file = dir.file("curl.txt");
    run_curl(vec![
        "-o".into(),
        "/dev/null".into(),
        "-c".into(),
        file.clone(),
        server.url("/set"),
    ])
    .await;
    let written = std::fs::read_to_string(&file).expect("curl wrote the jar");

    let jar = Jar::new();
    let report = jar.load(&file).expect("load");
    assert!(
        report.skipped().is_empty(),
        "{:?}\n{written}",
        report.skipped()
    );
    assert_eq!(report.loaded(), 8, "{written}");
    assert!(
        jar.get("127.0.0.1", "/", "sec").is_some_and(|c| c.secure()),
        "{written}"
    );
    // curl writes the Domain=127.0.0.1 cookie as host-only; so does our jar.
    let dom = jar.get("127.0.0.1", "/", "dom").expect("dom");
    assert!(dom.host_only());
    assert!(
        jar.get("127.0.0.1", "/", "ho")
            .is_some_and(|c| c.http_only()),
        "{written}"
    );
    assert!(
        jar.get("127.0.0.1", "/", "persist")
            .is_some_and(|c| c.persistent())
    );
    assert!(
        jar.get("127.0.0.1", "/", "plain")
            .is_some_and(|c| !c.persistent())
    );
    let expires = jar
        .get("127.0.0.1", "/", "expires")
        .and_then(|c| c.expires());
    let in_2100 = std::time::UNIX_EPOCH + Duration::from_secs(4_133_980_799);
    assert_eq!(expires, Some(in_2100));

    let client = client(&jar);
    let everywhere = "plain=1; dom=2; ho=4; persist=5; expires=6; quoted=\"a b\"";
    let root = text(&client, &server.url("/check")).await;
    assert_eq!(
        set(&root),
        set(everywhere),
        "no Secure cookie over http: {written}"
    );
    let scoped = text(&client, &server.url("/scoped/x")).await;
    assert!(
        scoped.starts_with("scoped=3; "),
        "longer path first: {scoped}"
    );
    assert_eq!(set(&scoped), set(&format!("scoped=3; {everywhere}")));
}

#[tokio::test]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn a_jar_we_saved_is_read_and_sent_by_curl() {
    let server = TestServer::start(cookie_server()).await;
    let dir = TempDir::new("to-curl");
    let file = dir.file("ours.txt");
    let jar = Jar::new();
    let client = client(&jar);
    text(&client, &server.url("/set")).await;
    assert_eq!(jar.save(&file).expect("save"), 7);
    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(
        saved.contains("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tho\t4\n"),
        "{saved}"
    );

    let before = server.request_count();
    run_curl(vec!["-b".into(), file.clone(), server.url("/check")]).await;
    run_curl(vec!["-b".into(), file.clone(), server.url("/scoped/x")]).await;
    let seen = cookies_seen(&server);
    let everywhere = "plain=1; dom=2; ho=4; persist=5; expires=6; quoted=\"a b\"";
    let root = seen[before].1.clone().unwrap_or_default();
    assert_eq!(
        set(&root),
        set(everywhere),
        "curl sent {root:?} from\n{saved}"
    );
    let scoped = seen[before + 1].1.clone().unwrap_or_default();
    assert_eq!(set(&scoped), set(&format!("scoped=3; {everywhere}")));

    // Persistent cookies only: curl sends just those.
    let persistent = dir.file("persistent.txt");
    CookiesTxt::new()
        .session_cookies(false)
        .save(&jar, &persistent)
        .expect("save");
    run_curl(vec!["-b".into(), persistent, server.url("/check")]).await;
    let seen = cookies_seen(&server);
    let root = seen[seen.len() - 1].1.clone().unwrap_or_default();
    assert_eq!(set(&root), set("persist=5; expires=6"));
}

// ---------------------------------------------------------------------------------
// One jar, many tasks
// ---------------------------------------------------------------------------------

/// Each task has its own path and cookie, `t{i}`; the server answers with the value
/// the request carried and sets it one higher. A task that ever sees a value other
/// than its round number lost a cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_sharing_one_jar_lose_no_cookie() {
    const TASKS: usize = 32;
    const ROUNDS: usize = 50;
    let server = TestServer::start(|req| {
        let task = req.path().trim_start_matches('/').to_owned();
        let prefix = format!("{task}=");
        let carried: usize = req
            .header("cookie")
            .and_then(|c| c.split("; ").find_map(|p| p.strip_prefix(prefix.as_str())))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Reply::text(carried.to_string()).header(
            "Set-Cookie",
            format!("{task}={}; Path=/{task}; Max-Age=600", carried + 1),
        )
    })
    .await;
    let jar = Jar::new();
    let client = client(&jar);
    let wrong = Arc::new(AtomicUsize::new(0));

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let client = client.clone();
        let wrong = Arc::clone(&wrong);
        let url = server.url(&format!("/t{t}"));
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                if text(&client, &url).await != round.to_string() {
                    wrong.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Meanwhile the jar is saved, listed and loaded elsewhere.
    let dir = TempDir::new("load");
    let file = dir.file("snapshot.txt");
    let saver = {
        let jar = jar.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                jar.save(&file).expect("save");
                let other = Jar::new();
                let report = other.load(&file).expect("load");
                assert!(report.skipped().is_empty());
                assert!(jar.iter().count() <= TASKS);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let all = async {
        for task in tasks {
            task.await.expect("task");
        }
        saver.await.expect("saver");
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("no deadlock");
    assert_eq!(wrong.load(Ordering::SeqCst), 0);
    assert_eq!(jar.len(), TASKS);
    for t in 0..TASKS {
        let c = jar.get("127.0.0.1", &format!("/t{t}"), &format!("t{t}"));
        assert_eq!(c.map(|c| c.value().to_owned()), Some(ROUNDS.to_string()));
    }
    assert_eq!(server.request_count(), TASKS * ROUNDS);
}
