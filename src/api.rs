//! A thin API over the seed schema: users, and chat sessions with their messages.

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use crate::state::AppState;

/// The API's routes, merged into [`crate::app`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user))
        .route(
            "/users/{id}/sessions",
            get(list_sessions).post(create_session),
        )
        .route("/sessions/{id}", get(get_session))
        .route(
            "/sessions/{id}/messages",
            get(list_messages).post(create_message),
        )
}

/// An API error: a status and a message, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

/// The answer to a path no route serves, JSON like every other error.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no route for {}", uri.path()),
    )
}

/// The answer to a method a route does not take, JSON like every other error.
pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> ApiError {
        tracing::error!(error = %pgbaked::error_chain(&err), "no database connection");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable".into(),
        )
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> ApiError {
        let status = match err.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => StatusCode::CONFLICT,
            Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => StatusCode::NOT_FOUND,
            Some(c)
                if *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::STRING_DATA_RIGHT_TRUNCATION =>
            {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => {
                tracing::error!(error = %pgbaked::error_chain(&err), "query failed");
                return ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
            }
        };
        let message = err.as_db_error().map_or_else(
            || err.to_string(),
            |db| db.detail().unwrap_or(db.message()).to_string(),
        );
        ApiError(status, message)
    }
}

/// A rejected extractor keeps axum's status (400, 415, 422, ...) and message but takes the API's
/// JSON shape, so a client parses every error the same way.
fn rejected(status: StatusCode, message: String) -> ApiError {
    if status.is_server_error() {
        // A route whose path does not match its extractor: a bug, not the client's mistake.
        tracing::error!(%status, error = %message, "extractor failed");
        return ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
    }
    ApiError(status, message)
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        rejected(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        rejected(rejection.status(), rejection.body_text())
    }
}

/// [`Json`] as a request body, rejected with an [`ApiError`]: axum's own rejection is plain
/// text, which a client expecting `{"error": "..."}` cannot parse.
#[derive(Debug)]
struct ApiJson<T>(T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// [`Path`] rejected with an [`ApiError`], so `/users/abc` answers 400 in JSON like every
/// other error of the API.
#[derive(Debug)]
struct ApiPath<T>(T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiPath<T>, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

fn not_found(what: &str, id: i64) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("{what} {id} not found"))
}

type ApiResult<T> = Result<T, ApiError>;

/// A user.
#[derive(Debug, Serialize)]
pub struct User {
    id: i64,
    username: String,
    email: String,
    is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&tokio_postgres::Row> for User {
    fn from(row: &tokio_postgres::Row) -> User {
        User {
            id: row.get("id"),
            username: row.get("username"),
            email: row.get("email"),
            is_active: row.get("is_active"),
            created_at: row.get("created_at"),
        }
    }
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    username: String,
    email: String,
}

const USER_COLUMNS: &str = "id, username, email, is_active, created_at";

async fn create_user(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    if new.username.trim().is_empty() || !new.email.contains('@') {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username must not be empty and email must contain @".into(),
        ));
    }
    let client = state.pool().get().await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO users (username, email) VALUES ($1, $2) RETURNING {USER_COLUMNS}"
            ),
            &[&new.username, &new.email],
        )
        .await?;
    Ok((StatusCode::CREATED, Json(User::from(&row))))
}

async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<User>>> {
    let client = state.pool().get().await?;
    let rows = client
        .query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"),
            &[],
        )
        .await?;
    Ok(Json(rows.iter().map(User::from).collect()))
}

async fn get_user(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<User>> {
    let client = state.pool().get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("user", id))?;
    Ok(Json(User::from(&row)))
}

/// A chat session.
#[derive(Debug, Serialize)]
pub struct Session {
    id: i64,
    user_id: i64,
    title: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<Message>>,
}

impl From<&tokio_postgres::Row> for Session {
    fn from(row: &tokio_postgres::Row) -> Session {
        Session {
            id: row.get("id"),
            user_id: row.get("user_id"),
            title: row.get("title"),
            created_at: row.get("created_at"),
            messages: None,
        }
    }
}

/// The body of `POST /users/{id}/sessions`.
#[derive(Debug, Deserialize)]
pub struct NewSession {
    title: Option<String>,
}

const SESSION_COLUMNS: &str = "id, user_id, title, created_at";

async fn create_session(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(new): ApiJson<NewSession>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let client = state.pool().get().await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO chat_sessions (user_id, title) VALUES ($1, coalesce($2, 'New chat')) \
                 RETURNING {SESSION_COLUMNS}"
            ),
            &[&user_id, &new.title],
        )
        .await
        .map_err(|err| match err.code() {
            Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => not_found("user", user_id),
            _ => err.into(),
        })?;
    Ok((StatusCode::CREATED, Json(Session::from(&row))))
}

async fn list_sessions(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Session>>> {
    let client = state.pool().get().await?;
    let rows = client
        .query(
            &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE user_id = $1 ORDER BY id"),
            &[&user_id],
        )
        .await?;
    Ok(Json(rows.iter().map(Session::from).collect()))
}

async fn get_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Session>> {
    let client = state.pool().get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("session", id))?;
    let mut session = Session::from(&row);
    session.messages = Some(messages(&client, id).await?);
    Ok(Json(session))
}

/// A chat message.
#[derive(Debug, Serialize)]
pub struct Message {
    id: i64,
    session_id: i64,
    role: String,
    content: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&tokio_postgres::Row> for Message {
    fn from(row: &tokio_postgres::Row) -> Message {
        Message {
            id: row.get("id"),
            session_id: row.get("session_id"),
            role: row.get("role"),
            content: row.get("content"),
            created_at: row.get("created_at"),
        }
    }
}

/// The body of `POST /sessions/{id}/messages`.
#[derive(Debug, Deserialize)]
pub struct NewMessage {
    role: String,
    content: String,
}

const MESSAGE_COLUMNS: &str = "id, session_id, role, content, created_at";

async fn messages(client: &tokio_postgres::Client, session_id: i64) -> ApiResult<Vec<Message>> {
    let rows = client
        .query(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 ORDER BY created_at, id"
            ),
            &[&session_id],
        )
        .await?;
    Ok(rows.iter().map(Message::from).collect())
}

async fn create_message(
    State(state): State<AppState>,
    ApiPath(session_id): ApiPath<i64>,
    ApiJson(new): ApiJson<NewMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let client = state.pool().get().await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO chat_messages (session_id, role, content) VALUES ($1, $2, $3) \
                 RETURNING {MESSAGE_COLUMNS}"
            ),
            &[&session_id, &new.role, &new.content],
        )
        .await
        .map_err(|err| match err.code() {
            Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => not_found("session", session_id),
            Some(c) if *c == SqlState::CHECK_VIOLATION => ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("role must be user, assistant or system, not {:?}", new.role),
            ),
            _ => err.into(),
        })?;
    Ok((StatusCode::CREATED, Json(Message::from(&row))))
}

async fn list_messages(
    State(state): State<AppState>,
    ApiPath(session_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Message>>> {
    let client = state.pool().get().await?;
    let exists = client
        .query_opt("SELECT 1 FROM chat_sessions WHERE id = $1", &[&session_id])
        .await?;
    if exists.is_none() {
        return Err(not_found("session", session_id));
    }
    Ok(Json(messages(&client, session_id).await?))
}
