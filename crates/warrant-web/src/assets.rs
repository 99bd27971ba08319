//! The page's files, built into the binary: plain HTML, CSS and JavaScript,
//! no build step and nothing fetched from elsewhere (it works offline).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");
const ICON: &str = include_str!("../assets/icon.svg");

/// `/`, `/app.js`, `/app.css`, `/icon.svg`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| file("text/html; charset=utf-8", INDEX)))
        .route(
            "/app.js",
            get(|| file("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route("/app.css", get(|| file("text/css; charset=utf-8", STYLE)))
        .route("/icon.svg", get(|| file("image/svg+xml", ICON)))
}

async fn file(kind: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, kind)], body)
}
