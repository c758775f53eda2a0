//! Web UI part 2, Audit (issue 15, test 5): an administrator searches the audit log in the
//! browser (actor, action, result; a bad filter is an error at its field), exports the filtered
//! set as CSV, and "verify chain" reports first an intact chain, then the record this test
//! altered in the database. Both browsers, axe and screenshots at both sizes.

use crate::audit_chain::exec;
use crate::support::browser::{Browser, Kind};
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{Backend, TestServer};
use fantoccini::Locator;
use serde_json::json;

async fn audit(s: &TestServer, kind: Kind) {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let names: Vec<String> = (0..3).map(|i| format!("Audited {tag} {i}")).collect();
    for name in &names {
        let (st, body) = s
            .admin()
            .post("/api/v1/groups", json!({ "name": name }))
            .await;
        assert_eq!(st, 201, "{body}");
    }
    let b = Browser::start_with(kind, true).await;
    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/").await;

    // The Audit section opens the log, newest first.
    b.client
        .find(Locator::XPath(
            "//nav[@class='site-nav']//a[normalize-space(.)='Audit']",
        ))
        .await
        .expect("an Audit section")
        .click()
        .await
        .expect("click");
    b.wait_for_path("/audit").await;
    b.screenshots("audit").await;

    // An unknown actor is an error at the field, and nothing is listed.
    // (Filters load in place: the table's part changes, not the page.)
    b.mark().await;
    b.fill("#actor", "nobody@example.test").await;
    b.click("#audit-table form.filters button[type=submit]")
        .await;
    assert!(b
        .wait_for_text("#actor-error", "no user has")
        .await
        .contains("nobody@example.test"));
    assert!(!b.has("#audit-table tbody tr").await);
    assert!(b.has("#audit-table .error-summary").await);
    assert!(b.still_marked().await, "the filter loaded in place");
    b.screenshots("audit-filter-error").await;

    // The administrator's successful group creations: exactly the three made above.
    b.fill("#actor", ADMIN_EMAIL).await;
    b.fill("#action", "group.created").await;
    b.client
        .find(Locator::Css("#state option[value='success']"))
        .await
        .expect("result choice")
        .click()
        .await
        .expect("choose success");
    b.click("#audit-table form.filters button[type=submit]")
        .await;
    b.wait_for_text("#audit-table tbody", &names[0]).await;
    let rows = b.texts("#audit-table tbody tr").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for name in &names {
        assert!(
            rows.iter().any(|r| r.contains(name.as_str())),
            "{name} in {rows:?}"
        );
    }
    assert!(rows
        .iter()
        .all(|r| r.contains("group.created") && r.contains("Success")));
    b.screenshots("audit-filtered").await;

    // The CSV export holds the filtered set, fetched with the browser's session.
    let href = b
        .client
        .find(Locator::Css("#export-csv"))
        .await
        .expect("export link")
        .attr("href")
        .await
        .expect("href")
        .expect("an href");
    assert!(href.contains("action=group.created"), "{href}");
    let csv = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t])));",
            vec![json!(href)],
        )
        .await
        .expect("fetch the export");
    assert_eq!(csv[0], 200, "{csv}");
    assert!(csv[1].as_str().unwrap().starts_with("text/csv"), "{csv}");
    let lines: Vec<&str> = csv[2].as_str().unwrap().lines().collect();
    assert!(lines[0].starts_with("seq,id,at,actor_kind"), "{}", lines[0]);
    assert_eq!(lines.len(), 4, "a header and three records: {lines:?}");
    for name in &names {
        assert!(lines.iter().any(|l| l.contains(name.as_str())), "{name}");
    }

    // Verify the chain: intact; then alter the second group's record and verify again.
    b.submit("#verify-chain").await;
    assert!(b
        .wait_for_text("#verify-result", "intact")
        .await
        .contains("records verified"));
    b.screenshots("audit-verified").await;
    let seq: i64 = lines
        .iter()
        .find(|l| l.contains(names[1].as_str()))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("the record's number");
    exec(
        s,
        &format!("UPDATE audit_log SET summary = '{{\"after\":{{\"name\":\"forged\"}}}}' WHERE seq = {seq}"),
    )
    .await;
    b.submit("#verify-chain").await;
    let report = b.wait_for_text("#verify-result", "broken").await;
    assert!(
        report.contains(&format!("broken at record {seq}")) && report.contains("altered"),
        "{report}"
    );
    b.screenshots("audit-broken").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_searches_exports_and_verifies_the_audit_log_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    audit(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_searches_exports_and_verifies_the_audit_log_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    audit(&s, Kind::Firefox).await;
    s.stop().await;
}
