//! Tests of the whole request path that need a handler no production build has: `app()` routes
//! `/rosterflow/test/panic` to [`panics`] only when this crate is compiled for its own unit tests, so neither the
//! binary nor the API tests' builds can reach it. The server is the real one: `start`, `serve`, real HTTP.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;

use crate::config::{Cli, Command, ServeArgs};

pub(crate) async fn panics() -> &'static str {
    panic!("a test handler panicked with a value it should not show")
}

/// `serve`'s arguments as the binary parses them (defaults, and any `ROSTERFLOW_*` variable set).
fn args(data_dir: &std::path::Path) -> ServeArgs {
    let mut argv: Vec<OsString> =
        ["rosterflow", "serve", "--listen", "127.0.0.1:0", "--data-dir"].map(Into::into).into();
    argv.push(data_dir.into());
    match Cli::try_parse_from(argv).expect("serve's arguments parse").command {
        Command::Serve(args) => *args,
        _ => unreachable!("the arguments name serve"),
    }
}

#[tokio::test]
async fn a_panic_answers_500_in_the_envelope_and_the_server_keeps_serving() {
    let dir = std::env::temp_dir().join(format!("rosterflow-unit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (listener, state, addr) = crate::start(&args(&dir)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for attempt in 0..3 {
        let r = http
            .get(format!("http://{addr}/rosterflow/test/panic"))
            .header("client-request-id", format!("panic-{attempt}"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        let request_id = r.headers()["request-id"].to_str().unwrap().to_string();
        let body: serde_json::Value = r.json().await.unwrap();
        let error = &body["error"];
        assert_eq!(error["code"], "InternalServerError", "{body}");
        assert_eq!(error["innerError"]["request-id"], request_id.as_str(), "{body}");
        assert_eq!(error["innerError"]["client-request-id"], format!("panic-{attempt}"), "{body}");
        assert!(!body.to_string().contains("should not show"), "the cause stays in the log: {body}");
        let health = http.get(format!("http://{addr}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "the server still serves after panic {attempt}");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
