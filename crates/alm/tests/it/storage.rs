//! The store on both backends: migrations, uniqueness, effective permissions, the audit chain.

use crate::support::{on_both_backends, Backend, TestDb};
use alm_core::paging::PageRequest;
use alm_core::permissions::{Feature, Permission, Right};
use alm_core::templates::TemplateState;
use alm_core::{Email, GroupId, RoleId, UserId};
use alm_store::audit_log::{self, ActorKind, NewRecord, Outcome, Personal};
use alm_store::groups::{self, NewGroup};
use alm_store::roles::{self, NewRole};
use alm_store::templates::{self, TemplateRecord};
use alm_store::users::{self, NewUser, UserFilter, UserSource};
use alm_store::{migrations, permissions, Db, StoreError};
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-29 10:00 UTC);

async fn fresh(backend: Backend) -> (TestDb, Db) {
    let tdb = TestDb::new(backend).await;
    let db = Db::connect(&tdb.url).await.expect("connect");
    migrations::migrate(&db, T0).await.expect("migrate");
    alm_server::services::bootstrap::ensure_builtins(&db, &alm_core::FixedClock::new(T0))
        .await
        .expect("builtins");
    (tdb, db)
}

async fn add_user(db: &Db, name: &str, email: &str) -> UserId {
    let id = UserId::new_v7(T0);
    let emails = [Email::parse("e", email).unwrap()];
    let mut tx = db.begin_write().await.unwrap();
    users::insert(
        &mut tx,
        &NewUser {
            id,
            display_name: name,
            emails: &emails,
            enabled: true,
            source: UserSource::Local,
            password_hash: None,
            directory: None,
            at: T0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

on_both_backends! {
    async fn migrations_are_idempotent_and_a_newer_schema_is_refused(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        assert_eq!(migrations::current_version(&db).await.unwrap(), migrations::latest_version());
        assert!(migrations::migrate(&db, T0).await.unwrap().is_empty(), "second run applies nothing");
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)")
            .execute(db.pool())
            .await
            .unwrap();
        let err = migrations::migrate(&db, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { database: 999, .. }), "{err}");
        assert!(err.to_string().contains("newer than this alm binary"), "{err}");
    }
}

on_both_backends! {
    async fn emails_are_unique_case_insensitively_and_users_are_searchable(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        add_user(&db, "Alice Example", "alice@example.test").await;
        add_user(&db, "Bob_Underscore", "bob@example.test").await;
        let emails = [Email::parse("e", "ALICE@example.test").unwrap()];
        let mut tx = db.begin_write().await.unwrap();
        let err = users::insert(
            &mut tx,
            &NewUser { id: UserId::new_v7(T0), display_name: "Alias", emails: &emails, enabled: true, source: UserSource::Local, password_hash: None, directory: None, at: T0 },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        drop(tx);
        let mut conn = db.read().await.unwrap();
        let page = PageRequest::parse(None, None, None, users::SORT_KEYS).unwrap();
        let (found, total) = users::list(&mut conn, &UserFilter { query: Some("ALICE".into()), ..Default::default() }, &page).await.unwrap();
        assert_eq!((total, found[0].display_name.as_str()), (1, "Alice Example"));
        // `_` is a LIKE wildcard: searching for it must match the character only.
        let (found, _) = users::list(&mut conn, &UserFilter { query: Some("b_u".into()), ..Default::default() }, &page).await.unwrap();
        assert_eq!(found.len(), 1);
        let (found, _) = users::list(&mut conn, &UserFilter { query: Some("e_x".into()), ..Default::default() }, &page).await.unwrap();
        assert!(found.is_empty(), "e_x must not match 'Alice Example' through a wildcard");
        let (all, total) = users::list(&mut conn, &UserFilter::default(), &PageRequest::parse(Some(1), Some(1), Some("-display_name"), users::SORT_KEYS).unwrap()).await.unwrap();
        assert_eq!((total, all.len(), all[0].display_name.as_str()), (2, 1, "Alice Example"));
    }
}

on_both_backends! {
    async fn effective_permissions_follow_enabled_roles_and_groups(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        let user = add_user(&db, "Carol", "carol@example.test").await;
        let audit_read = Permission::new(Feature::Audit, Right::Read);
        let user_read = Permission::new(Feature::User, Right::Read);
        let (direct, via_group, group) = (RoleId::new_v7(T0), RoleId::new_v7(T0), GroupId::new_v7(T0));
        let mut tx = db.begin_write().await.unwrap();
        for (id, name) in [(direct, "Direct"), (via_group, "Via group")] {
            roles::insert(&mut tx, &NewRole { id, builtin_key: None, name, description: "", enabled: true, auto_apply: false, at: T0 }).await.unwrap();
        }
        roles::set_permissions(&mut tx, direct, &[audit_read]).await.unwrap();
        roles::set_permissions(&mut tx, via_group, &[user_read, audit_read]).await.unwrap();
        roles::assign_user(&mut tx, direct, user).await.unwrap();
        groups::insert(&mut tx, &NewGroup { id: group, builtin_key: None, name: "Team", description: "", enabled: true, at: T0 }).await.unwrap();
        groups::add_member(&mut tx, group, user).await.unwrap();
        groups::set_roles(&mut tx, group, &[via_group]).await.unwrap();
        tx.commit().await.unwrap();

        let perms = |db: Db| async move { permissions::effective(&mut db.read().await.unwrap(), user).await.unwrap() };
        let p = perms(db.clone()).await;
        assert!(p.has(user_read) && p.has(audit_read));
        // Everyone carries Account Owner.
        assert!(p.has(Permission::new(Feature::ManagedAccount, Right::Read)));

        let mut tx = db.begin_write().await.unwrap();
        groups::set_enabled(&mut tx, group, false, T0).await.unwrap();
        tx.commit().await.unwrap();
        let p = perms(db.clone()).await;
        assert!(!p.has(user_read), "only the group gave user:read");
        assert!(p.has(audit_read), "the direct role still gives audit:read");

        let mut tx = db.begin_write().await.unwrap();
        roles::set_enabled(&mut tx, direct, false, T0).await.unwrap();
        tx.commit().await.unwrap();
        assert!(!perms(db.clone()).await.has(audit_read), "a disabled role gives nothing");
    }
}

on_both_backends! {
    async fn audit_chain_appends_in_order_and_verifies(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        let before = audit_log::verify(&mut db.read().await.unwrap()).await.unwrap();
        assert!(before.first_broken.is_none());
        for i in 0..5 {
            let mut tx = db.begin_write().await.unwrap();
            audit_log::append(
                &mut tx,
                T0,
                NewRecord {
                    actor_kind: ActorKind::User,
                    actor_id: Some(format!("u{i}")),
                    action: "test.action".into(),
                    object_type: "thing".into(),
                    object_id: Some(i.to_string()),
                    outcome: Outcome::Success,
                    summary: serde_json::json!({"i": i, "password": "hunter2"}),
                    personal: Personal { actor_email: Some("x@example.test".into()), ..Default::default() },
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        // A rolled-back append leaves no trace and no gap.
        let mut tx = db.begin_write().await.unwrap();
        audit_log::append(&mut tx, T0, NewRecord {
            actor_kind: ActorKind::System, actor_id: None, action: "rolled.back".into(), object_type: "thing".into(),
            object_id: None, outcome: Outcome::Success, summary: serde_json::json!({}), personal: Personal::default(),
        }).await.unwrap();
        drop(tx);
        let mut conn = db.read().await.unwrap();
        let report = audit_log::verify(&mut conn).await.unwrap();
        assert_eq!(report.first_broken, None);
        assert_eq!(report.checked, before.checked + 5);
        let filter = audit_log::AuditFilter { action: Some("test.action".into()), ..Default::default() };
        let (records, total) = audit_log::list(&mut conn, &filter, true, 2, 0).await.unwrap();
        assert_eq!(total, 5);
        assert_eq!(records[0].object_id.as_deref(), Some("4"), "newest first");
        assert_eq!(records[0].summary["password"], "[redacted]");
        assert_eq!(records[1].seq, records[0].seq - 1);
    }
}

on_both_backends! {
    async fn a_stored_state_alm_did_not_write_is_corruption_naming_table_row_and_value(backend: Backend) {
        let (_tdb, db) = fresh(backend).await;
        let id = alm_core::ids::uuid_v7_at(T0);
        let mut tx = db.begin_write().await.unwrap();
        templates::insert(&mut tx, &TemplateRecord {
            id,
            name: "Corrupted".into(),
            state: TemplateState::Published,
            published_version: None,
            latest_version: 1,
            created_at: T0,
            updated_at: T0,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let read = |db: Db| async move { templates::get(&mut db.read().await.unwrap(), id).await };
        assert_eq!(read(db.clone()).await.unwrap().unwrap().state, TemplateState::Published);

        // Someone edits the row by hand: one letter missing.
        let mut tx = db.begin_write().await.unwrap();
        sqlx::query("UPDATE templates SET state = 'publishd' WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match read(db.clone()).await {
            Err(StoreError::Corrupt(message)) => {
                assert!(message.contains("templates.state"), "{message}");
                assert!(message.contains(&id.to_string()), "{message}");
                assert!(message.contains("\"publishd\""), "{message}");
            }
            other => panic!("a corrupt state must not read back as anything: {other:?}"),
        }
        // Nor does a list of templates hand out a default for it.
        let listed = templates::list(&mut db.read().await.unwrap(), None).await;
        assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");
    }
}

#[tokio::test]
async fn unknown_database_schemes_are_refused_by_name() {
    let err = Db::connect("mysql://alm@localhost/alm")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"mysql\"") && err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
}

/// Polls `fut` `polls` times (letting the database's own threads run in between) and drops it:
/// what a request does to its handler when its client goes away mid-way.
async fn abandon_after<F: std::future::Future>(fut: F, polls: usize) {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let ready =
            std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready()))
                .await;
        if ready {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
        tokio::task::yield_now().await;
    }
}

on_both_backends! {
    async fn a_write_transaction_abandoned_while_it_begins_leaves_every_connection_usable(backend: Backend) {
        // A handler dropped between the database's BEGIN and the transaction object existing
        // once left its pooled connection inside a transaction: the next write on it failed
        // (a 500) and, on SQLite, the write lock stayed taken. Abandon begins at every point.
        let (_tdb, db) = fresh(backend).await;
        for polls in (0..50).cycle().take(200) {
            abandon_after(db.begin_write(), polls).await;
            // More writes than the pool has connections, one after another: each idle
            // connection is handed out in turn, so a spoilt one is met.
            for round in 0..10 {
                let mut tx = db.begin_write().await.unwrap_or_else(|e| {
                    panic!("a write after a begin abandoned at poll {polls} (round {round}): {e}")
                });
                sqlx::query("UPDATE readiness_probe SET checked_at = checked_at + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }
        let mut conn = db.read().await.unwrap();
        let row: (i64,) = sqlx::query_as("SELECT checked_at FROM readiness_probe WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(row.0, 2000, "every committed write is there");
    }
}
