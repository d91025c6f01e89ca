//! Tests of the whole request path that need a handler no production build has: `app()` routes
//! `/rosterflow/test/panic` to [`panics`] only when this crate is compiled for its own unit tests, so neither the
//! binary nor the API tests' builds can reach it. The server is the real one: `start`, `serve`, real HTTP.

use std::time::Duration;

use crate::config::ServeArgs;

pub(crate) async fn panics() -> &'static str {
    panic!("a test handler panicked with a value it should not show")
}

fn args(data_dir: std::path::PathBuf) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        database_url: None,
        jwks_file: None,
        jwks_url: None,
        issuers: vec![],
        audience: None,
        jwks_min_refresh_seconds: 0,
        secrets_key_file: None,
        max_body_bytes: 1024,
        log_format: Default::default(),
        limits: Default::default(),
    }
}

#[tokio::test]
async fn a_panic_answers_500_in_the_envelope_and_the_server_keeps_serving() {
    let dir = std::env::temp_dir().join(format!("rosterflow-unit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (listener, state, addr) = crate::start(&args(dir.clone())).await.unwrap();
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
