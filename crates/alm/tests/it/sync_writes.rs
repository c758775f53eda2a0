//! How a sync writes what it read, on both backends: multi-row upserts across their statement
//! boundaries, schema names kept or replaced, and a full sync against the Samba DC that
//! rewrites what changed (even with the same `uSNChanged`) and marks the rest seen.

use crate::support::{ad, on_both_backends, TestServer};
use alm_core::{Clock, DomainId};
use alm_store::directory_sync::{self, DirectoryObject, UPSERT_BATCH_ROWS};
use serde_json::json;

/// A domain that is never reached (these tests write the store directly).
async fn unreachable_domain(s: &TestServer) -> DomainId {
    let (st, d) = s
        .admin()
        .post(
            "/api/v1/domains",
            json!({"name": "Batches", "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                   "bind_password": "x", "base_dn": "DC=corp,DC=example,DC=test"}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    d["id"].as_str().unwrap().parse().unwrap()
}

fn object(i: usize, s: &TestServer) -> DirectoryObject {
    DirectoryObject {
        guid: format!("00000000-0000-4000-8000-{i:012}"),
        kind: "user".into(),
        dn: format!("CN=u{i},OU=Batch,DC=corp,DC=example,DC=test"),
        name: format!("u{i}"),
        enabled: true,
        usn_changed: i as i64,
        details: json!({"description": format!("user {i}")}),
        synced_at: s.clock.now(),
    }
}

on_both_backends! {
    async fn sync_upserts_cross_batch_boundaries_and_keep_the_last_of_a_repeat(backend: Backend) {
        let s = TestServer::start(backend).await;
        let domain = unreachable_domain(&s).await;
        let db = &s.state().db;
        // Two full statements and one row more; the first object again at the end, changed.
        let n = 2 * UPSERT_BATCH_ROWS + 1;
        let mut objects: Vec<DirectoryObject> = (0..n).map(|i| object(i, &s)).collect();
        objects.push(DirectoryObject { name: "u0-last".into(), ..object(0, &s) });
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::upsert(&mut tx, domain, &objects.iter().collect::<Vec<_>>()).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let stored = directory_sync::stored_objects(&mut conn, domain).await.unwrap();
        drop(conn);
        assert_eq!(stored.len(), n, "every object once");
        assert_eq!(stored[&objects[0].guid].name, "u0-last", "a repeat is stored as its last occurrence");
        for i in [1, UPSERT_BATCH_ROWS - 1, UPSERT_BATCH_ROWS, 2 * UPSERT_BATCH_ROWS] {
            let o = &objects[i];
            assert!(!directory_sync::needs_write(stored.get(&o.guid), o), "object {i} stored as read");
        }

        // Changes on both sides of a boundary and a new object, in one call: updated in place.
        s.clock.advance(time::Duration::minutes(1));
        let moved = DirectoryObject { dn: "CN=u500,OU=Elsewhere,DC=corp,DC=example,DC=test".into(), synced_at: s.clock.now(), ..object(UPSERT_BATCH_ROWS, &s) };
        let disabled = DirectoryObject { enabled: false, synced_at: s.clock.now(), ..object(UPSERT_BATCH_ROWS - 1, &s) };
        let new = object(n, &s);
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::upsert(&mut tx, domain, &[&moved, &disabled, &new]).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let after = directory_sync::stored_objects(&mut conn, domain).await.unwrap();
        assert_eq!(after.len(), n + 1);
        assert_eq!(after[&moved.guid].dn, moved.dn);
        assert!(!after[&disabled.guid].enabled);
        assert_eq!(after[&objects[2].guid], stored[&objects[2].guid], "the rest untouched");
        let untouched = directory_sync::object(&mut conn, domain, &objects[2].guid).await.unwrap().unwrap();
        let written = directory_sync::object(&mut conn, domain, &moved.guid).await.unwrap().unwrap();
        assert_eq!((untouched.synced_at, written.synced_at), (s.clock.now() - time::Duration::minutes(1), s.clock.now()));
        drop(conn);

        // A full sync marks everything it saw, written or not.
        s.clock.advance(time::Duration::minutes(1));
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::mark_seen(&mut tx, domain, s.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let untouched = directory_sync::object(&mut conn, domain, &objects[2].guid).await.unwrap().unwrap();
        assert_eq!(untouched.synced_at, s.clock.now());
        drop(conn);

        // A row written after it (an incremental sync) keeps its own, later time; the listing
        // sorts by the same time the objects show.
        let seen = s.clock.now();
        s.clock.advance(time::Duration::minutes(1));
        let later = DirectoryObject { enabled: true, synced_at: s.clock.now(), ..object(UPSERT_BATCH_ROWS - 1, &s) };
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::upsert(&mut tx, domain, &[&later]).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let written = directory_sync::object(&mut conn, domain, &later.guid).await.unwrap().unwrap();
        let untouched = directory_sync::object(&mut conn, domain, &objects[2].guid).await.unwrap().unwrap();
        assert_eq!((written.synced_at, untouched.synced_at), (s.clock.now(), seen));
        let page = alm_core::paging::PageRequest { limit: 500, offset: 0, sort: "synced_at", direction: alm_core::paging::SortDirection::Descending };
        let (listed, total) = directory_sync::list(&mut conn, domain, None, None, &page).await.unwrap();
        assert_eq!(total as usize, n + 1);
        assert_eq!((listed[0].guid.as_str(), listed[0].synced_at), (later.guid.as_str(), s.clock.now()));
        assert_eq!(listed[1].synced_at, seen, "every other object shows the full sync's time");
        drop(conn);
        s.stop().await;
    }
}

on_both_backends! {
    async fn sync_schema_names_are_written_in_batches_and_replaced_only_when_they_differ(backend: Backend) {
        let s = TestServer::start(backend).await;
        let domain = unreachable_domain(&s).await;
        let db = &s.state().db;
        let mut names: Vec<String> = (0..2 * UPSERT_BATCH_ROWS + 7).map(|i| format!("attr{i:04}")).collect();
        names.push("ATTR0003".into()); // the same name in another case: kept once
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::replace_attributes(&mut tx, domain, &names).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let stored = directory_sync::attributes(&mut conn, domain, None).await.unwrap();
        drop(conn);
        assert_eq!(stored.len(), 2 * UPSERT_BATCH_ROWS + 7);
        assert_eq!(stored[3], "attr0003", "the first spelling wins");

        // The same names again change nothing; one more name replaces the list.
        let mut tx = db.begin_write().await.unwrap();
        directory_sync::replace_attributes(&mut tx, domain, &names).await.unwrap();
        names.push("msDS-New".into());
        directory_sync::replace_attributes(&mut tx, domain, &names).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let stored = directory_sync::attributes(&mut conn, domain, Some("msds-new")).await.unwrap();
        assert_eq!(stored, ["msDS-New"]);
        assert_eq!(directory_sync::attributes(&mut conn, domain, None).await.unwrap().len(), 2 * UPSERT_BATCH_ROWS + 8);
        drop(conn);
        s.stop().await;
    }
}

on_both_backends! {
    async fn sync_full_rewrites_what_changed_even_at_the_same_usn_and_marks_the_rest_seen(backend: Backend) {
        use alm_directory::password::Generate as _;
        use alm_directory::{Directory, NewUser};
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "rewrite").await;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let user = |name: String| NewUser {
            parent_dn: ou.clone(),
            sam_account_name: name.clone(),
            user_principal_name: format!("{name}@corp.example.test"),
            description: None,
            attributes: vec![],
            password: alm_directory::password::PasswordPolicy::default().generate(&name, ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        };
        let a = dir.create_user(&user(format!("ra{tag}"))).await.unwrap();
        let b = dir.create_user(&user(format!("rb{tag}"))).await.unwrap();
        let c = ad::config();
        let body = json!({
            "name": format!("Rewrite {tag}"), "url": c.url, "bind_identity": c.bind_identity,
            "bind_password": c.bind_password.expose(), "ca_pem": c.ca_pem, "base_dn": ou,
        });
        let (st, d) = admin.post("/api/v1/domains", body).await;
        assert_eq!(st, 201, "{d}");
        let id: DomainId = d["id"].as_str().unwrap().parse().unwrap();
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!((run["outcome"].as_str(), run["added"].as_u64()), (Some("succeeded"), Some(3)), "the OU, two users: {run}");
        let db = &s.state().db;
        let mut conn = db.read().await.unwrap();
        let held = directory_sync::stored_objects(&mut conn, id).await.unwrap();
        drop(conn);
        let guid_of = |dn: &str| held.iter().find(|(_, o)| o.dn == dn).map(|(g, _)| g.clone()).unwrap();
        let (ga, gb) = (guid_of(&a.dn), guid_of(&b.dn));

        // alm's row of `a` no longer says what the directory does, at the same uSNChanged (as
        // when its OU is renamed); `b` changes in the directory.
        sqlx::query("UPDATE directory_objects SET dn = 'CN=stale,DC=corp,DC=example,DC=test' WHERE guid = $1")
            .bind(&ga)
            .execute(db.pool())
            .await
            .unwrap();
        dir.set_enabled(&b.dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!((run["outcome"].as_str(), run["added"].as_u64(), run["updated"].as_u64(), run["removed"].as_u64()),
                   (Some("succeeded"), Some(0), Some(3), Some(0)), "every known object counts as updated: {run}");
        let mut conn = db.read().await.unwrap();
        let a_row = directory_sync::object(&mut conn, id, &ga).await.unwrap().unwrap();
        let b_row = directory_sync::object(&mut conn, id, &gb).await.unwrap().unwrap();
        assert_eq!(a_row.dn, a.dn, "the stale row is rewritten although its uSNChanged did not move");
        assert!(!b_row.enabled, "the change in the directory is stored");
        let (_, objects) = admin.get(&format!("/api/v1/domains/{id}/objects?limit=500")).await;
        assert_eq!(objects["total"], 3);
        for o in objects["items"].as_array().unwrap() {
            let at = time::OffsetDateTime::parse(o["synced_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
            assert_eq!(at, s.clock.now(), "every object seen by this sync, written or not: {o}");
        }
        drop(conn);
        s.stop().await;
    }
}
