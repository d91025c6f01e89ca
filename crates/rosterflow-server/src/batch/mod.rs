//! The `$batch` area: `POST /beta/$batch`, JSON batching as Graph documents it
//! (`graph-docs-directory/concepts/json-batching.md`, its known issues, and `throttling.md` "Throttling and
//! batching"): up to 20 requests in one JSON body, run as if each had been sent alone, answered together.
//!
//! - [`parse`] reads and checks the batch; a malformed one answers 400 and nothing runs.
//! - [`run`] runs each request through the same router as direct requests (every area but this one), in the
//!   order `dependsOn` asks for, the rest at once; a request whose dependency failed answers 424.
//! - [`respond`] writes the 200 answer: each request's `id`, `status`, `headers` and `body`.
//!
//! `$batch` needs a valid token and nothing more: each request is authorized as itself, and throttled as
//! itself (a throttled request answers 429 with `Retry-After` inside the 200, as Graph does), so the batch's own
//! request is not counted by the throttle. The batch is logged as `/beta/$batch`; each request logs a line of its
//! own, with its own route template and `request-id`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::auth::Caller;
use crate::AppState;

pub mod parse;
pub mod respond;
pub mod run;

/// The area's root, as [`crate::request::ROOTS`] spells it.
pub const ROOT: &str = "/beta/$batch";

/// The area's route. `subrequests` is what a batch's requests go through: every other area, under the layers
/// of a direct request ([`crate::app`] builds it once).
pub fn router(app: &AppState, subrequests: Router) -> Router<Arc<AppState>> {
    let runner = Arc::new(run::Runner::new(subrequests, app.limits.clone()));
    let handler = move |State(app): State<Arc<AppState>>, req: Request| {
        let runner = runner.clone();
        async move { handle(&app, &runner, req).await.unwrap_or_else(|refused| refused) }
    };
    Router::new().route(ROOT, post(handler))
}

async fn handle(app: &AppState, runner: &run::Runner, req: Request) -> Result<Response, Response> {
    crate::request::record_route(|| ROOT.to_string());
    let (parts, body) = req.into_parts();
    Caller::verify(&parts, app).await?;
    let bytes = crate::body::read_json(app, &parts, body).await.map_err(IntoResponse::into_response)?;
    let items = parse::batch(&bytes).map_err(IntoResponse::into_response)?;
    let answers = runner.run(&items, &parts).await;
    Ok(respond::batch(&items, &answers))
}
