//! The API over the seed schema, each test on a freshly migrated database of its own: the
//! example to copy for a service's own integration tests.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{call, serve};
use pg_migrate_testing::TestDb;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_listed_and_fetched() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let (addr, _stop) = serve(&db).await;

    let (status, ann) = call(
        addr,
        "POST",
        "/users",
        Some(json!({"username": "ann", "email": "ann@example.com"})),
    )
    .await;
    assert_eq!(status, 201, "{ann}");
    assert_eq!(ann["username"], "ann");
    assert_eq!(ann["is_active"], true);
    let id = ann["id"].as_i64().unwrap();

    let (status, dup) = call(
        addr,
        "POST",
        "/users",
        Some(json!({"username": "ann", "email": "other@example.com"})),
    )
    .await;
    assert_eq!(status, 409, "{dup}");

    let (status, bad) = call(
        addr,
        "POST",
        "/users",
        Some(json!({"username": "bob", "email": "nope"})),
    )
    .await;
    assert_eq!(status, 422, "{bad}");

    let (status, list) = call(addr, "GET", "/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, got) = call(addr, "GET", &format!("/users/{id}"), None).await;
    assert_eq!(
        (status, got["email"].clone()),
        (200, json!("ann@example.com"))
    );
    let (status, _) = call(addr, "GET", "/users/999999", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sessions_keep_their_messages_in_order() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let (addr, _stop) = serve(&db).await;
    let (_, user) = call(
        addr,
        "POST",
        "/users",
        Some(json!({"username": "cat", "email": "cat@example.com"})),
    )
    .await;
    let user_id = user["id"].as_i64().unwrap();

    let (status, session) = call(
        addr,
        "POST",
        &format!("/users/{user_id}/sessions"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["title"], "New chat");
    let session_id = session["id"].as_i64().unwrap();

    for (role, content) in [("user", "list the pets"), ("assistant", "GET /pets")] {
        let (status, message) = call(
            addr,
            "POST",
            &format!("/sessions/{session_id}/messages"),
            Some(json!({"role": role, "content": content})),
        )
        .await;
        assert_eq!(status, 201, "{message}");
    }
    let (status, bad_role) = call(
        addr,
        "POST",
        &format!("/sessions/{session_id}/messages"),
        Some(json!({"role": "robot", "content": "beep"})),
    )
    .await;
    assert_eq!(status, 422, "{bad_role}");

    let (status, full) = call(addr, "GET", &format!("/sessions/{session_id}"), None).await;
    assert_eq!(status, 200);
    let roles: Vec<&str> = full["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);

    let (status, sessions) = call(addr, "GET", &format!("/users/{user_id}/sessions"), None).await;
    assert_eq!((status, sessions.as_array().unwrap().len()), (200, 1));
    let (status, _) = call(addr, "POST", "/users/424242/sessions", Some(json!({}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(addr, "GET", "/sessions/424242/messages", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_answered_with_json_errors() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let (addr, _stop) = serve(&db).await;

    let cases = [
        (
            "POST",
            "/users",
            Some("application/json"),
            "{\"username\": ",
            400,
        ),
        (
            "POST",
            "/users",
            None,
            r#"{"username": "ann", "email": "ann@example.com"}"#,
            415,
        ),
        (
            "POST",
            "/users",
            Some("application/json"),
            r#"{"username": "ann"}"#,
            422,
        ),
        ("GET", "/users/abc", None, "", 400),
        ("GET", "/no/such/route", None, "", 404),
        ("DELETE", "/users", None, "", 405),
        (
            "POST",
            "/users/abc/sessions",
            Some("application/json"),
            "{}",
            400,
        ),
    ];
    for (method, path, content_type, body, expected) in cases {
        let (status, text) = tokio::task::spawn_blocking(move || {
            raw_request(addr, method, path, content_type, body)
        })
        .await
        .unwrap();
        let what = format!("{method} {path} with {content_type:?} and {body:?}");
        assert_eq!(status, expected, "{what}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{what}: body is not JSON ({err}): {text}"));
        let error = json["error"].as_str();
        assert!(error.is_some_and(|e| !e.is_empty()), "{what}: {json}");
    }
}

/// A request with a body sent as is and an optional Content-Type, which `common::request`
/// (always valid JSON, always `application/json`) cannot send. Returns the status and the
/// body as text.
fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let content_type = content_type
        .map(|t| format!("Content-Type: {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         {content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}
