//! Server-sent events: the grants, sent again whenever one changes (a new
//! request appears without reloading), until the session ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use warrant_broker::Caller;

use super::grants::current;
use crate::AppState;
use crate::error::WebError;
use crate::peer::Peer;
use crate::session::Signed;

/// Changes closer together than this go out as one event.
const SETTLE: Duration = Duration::from_millis(50);
/// How often an idle stream checks that its session is still live.
const CHECK: Duration = Duration::from_secs(10);

/// `GET /api/events`: `grants` events carrying what `GET /api/grants`
/// answers; `signed_out` when the session ends.
pub async fn stream(
    State(state): State<AppState>,
    session: Signed,
    Peer(caller): Peer,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    let changes = state.daemon().subscribe().await;
    let first = snapshot(&state, &caller).await;
    let stream = futures_util::stream::unfold(
        (state, session.id, changes, Some(first), false),
        move |(state, id, mut changes, next, done)| {
            let caller = caller.clone();
            async move {
                if done {
                    return None;
                }
                if let Some(event) = next {
                    return Some((Ok(event), (state, id, changes, None, false)));
                }
                loop {
                    match tokio::time::timeout(CHECK, changes.recv()).await {
                        Ok(Ok(_) | Err(RecvError::Lagged(_))) => {
                            tokio::time::sleep(SETTLE).await;
                            while !changes.is_empty() {
                                let _ = changes.try_recv();
                            }
                            break;
                        }
                        Ok(Err(RecvError::Closed)) => return None,
                        Err(_) if state.sessions().alive(&id) => {}
                        Err(_) => break,
                    }
                }
                if !state.sessions().alive(&id) {
                    let event = Event::default().event("signed_out").data("{}");
                    return Some((Ok(event), (state, id, changes, None, true)));
                }
                let event = snapshot(&state, &caller).await;
                Some((Ok(event), (state, id, changes, None, false)))
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn snapshot(state: &AppState, caller: &Caller) -> Event {
    match current(state, caller).await {
        Ok(grants) => Event::default()
            .event("grants")
            .json_data(&grants)
            .unwrap_or_default(),
        Err(e) => Event::default().event("failure").data(e.to_string()),
    }
}
