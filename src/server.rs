//! The HTTP service: health, readiness against the schema, and the schema's state as JSON.

use axum::Json;
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use pgbaked::State;

use crate::state::AppState;

/// The router, without a socket, so tests can call it directly.
pub fn app(state: AppState) -> Router {
    // The API waits for the boot (its migrations); the probes and /schema answer throughout.
    let api = crate::api::routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        after_boot,
    ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/schema", get(schema))
        .merge(api)
        .fallback(crate::api::no_route)
        .method_not_allowed_fallback(crate::api::wrong_method)
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains open requests.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok"
}

/// Holds a request until the boot is over: a replica still migrating answers its API once the
/// schema is the one it was built for.
async fn after_boot(
    AxumState(state): AxumState<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if state.booted().await {
        next.run(request).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the service did not finish booting" })),
        )
            .into_response()
    }
}

/// The schema as the database and the binary see it; `Err` when the database does not answer.
async fn schema_state(state: &AppState) -> Result<serde_json::Value, String> {
    let client = state
        .pool()
        .get()
        .await
        .map_err(|e| pgbaked::error_chain(&e))?;
    let rows = state
        .migrator()
        .history(&client)
        .await
        .map_err(|e| pgbaked::error_chain(&e))?;
    let status = state.migrator().status(&rows);
    // Pending from the first `-- contract` migration on: held back while replicas of the
    // previous release serve, which this release does not need to serve.
    let held: Vec<i64> = status
        .in_state(State::Pending)
        .skip_while(|e| !e.migration.is_some_and(|m| m.is_contract()))
        .map(|e| e.version)
        .collect();
    Ok(json!({
        "head": status.head(),
        "current": status.current(),
        "pending": status.versions(State::Pending),
        "held_contract": held,
        "divergent": status.versions(State::Divergent),
        "mismatched": status.versions(State::Mismatched),
        "unknown": status.versions(State::Unknown),
    }))
}

async fn readyz(AxumState(state): AxumState<AppState>) -> impl IntoResponse {
    // Booting (waiting for the database, or migrating at `--migrate`): not ready, and how far.
    let boot = state.boot();
    if boot != crate::state::Boot::Ready {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "boot": boot })),
        );
    }
    match schema_state(&state).await {
        Ok(schema) => {
            // A held contract does not keep this release from serving.
            let count = |key: &str| schema[key].as_array().map_or(0, Vec::len);
            let pending = count("pending") > count("held_contract");
            let divergent = schema["divergent"]
                .as_array()
                .is_some_and(|p| !p.is_empty());
            let code = if pending || divergent {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (
                code,
                Json(json!({ "ready": code == StatusCode::OK, "schema": schema })),
            )
        }
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "error": error })),
        ),
    }
}

async fn schema(AxumState(state): AxumState<AppState>) -> impl IntoResponse {
    match schema_state(&state).await {
        Ok(schema) => (StatusCode::OK, Json(schema)),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": error })),
        ),
    }
}
