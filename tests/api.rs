//! The API over the seed schema, each test on a freshly migrated database of its own: the
//! example to copy for a service's own integration tests.

mod common;

use common::{call, raw_call, router};
use pgbaked_testing::TestDb;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_listed_and_fetched() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let app = router(&db);

    let (status, ann) = call(
        &app,
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
        &app,
        "POST",
        "/users",
        Some(json!({"username": "ann", "email": "other@example.com"})),
    )
    .await;
    assert_eq!(status, 409, "{dup}");

    let (status, bad) = call(
        &app,
        "POST",
        "/users",
        Some(json!({"username": "bob", "email": "nope"})),
    )
    .await;
    assert_eq!(status, 422, "{bad}");

    let (status, list) = call(&app, "GET", "/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, got) = call(&app, "GET", &format!("/users/{id}"), None).await;
    assert_eq!(
        (status, got["email"].clone()),
        (200, json!("ann@example.com"))
    );
    let (status, _) = call(&app, "GET", "/users/999999", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sessions_keep_their_messages_in_order() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let app = router(&db);
    let (_, user) = call(
        &app,
        "POST",
        "/users",
        Some(json!({"username": "cat", "email": "cat@example.com"})),
    )
    .await;
    let user_id = user["id"].as_i64().unwrap();

    let (status, session) = call(
        &app,
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
            &app,
            "POST",
            &format!("/sessions/{session_id}/messages"),
            Some(json!({"role": role, "content": content})),
        )
        .await;
        assert_eq!(status, 201, "{message}");
    }
    let (status, bad_role) = call(
        &app,
        "POST",
        &format!("/sessions/{session_id}/messages"),
        Some(json!({"role": "robot", "content": "beep"})),
    )
    .await;
    assert_eq!(status, 422, "{bad_role}");

    let (status, full) = call(&app, "GET", &format!("/sessions/{session_id}"), None).await;
    assert_eq!(status, 200);
    let roles: Vec<&str> = full["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);

    let (status, sessions) = call(&app, "GET", &format!("/users/{user_id}/sessions"), None).await;
    assert_eq!((status, sessions.as_array().unwrap().len()), (200, 1));
    let (status, _) = call(&app, "POST", "/users/424242/sessions", Some(json!({}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, "GET", "/sessions/424242/messages", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_answered_with_json_errors() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let app = router(&db);

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
        let (status, text) = raw_call(&app, method, path, content_type, body).await;
        let what = format!("{method} {path} with {content_type:?} and {body:?}");
        assert_eq!(status, expected, "{what}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{what}: body is not JSON ({err}): {text}"));
        let error = json["error"].as_str();
        assert!(error.is_some_and(|e| !e.is_empty()), "{what}: {json}");
    }
}
