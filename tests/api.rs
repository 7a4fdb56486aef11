//! The API over the seed schema, each test on a freshly migrated database of its own: the
//! example to copy for a service's own integration tests.

mod common;

use app::testing::TestDb;
use common::{call, serve};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_listed_and_fetched() {
    let db = TestDb::new().await.unwrap();
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
    let db = TestDb::new().await.unwrap();
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
