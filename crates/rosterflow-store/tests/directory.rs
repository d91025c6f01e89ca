//! The directory store's contract (`rosterflow_store::directory`), on SQLite always and on PostgreSQL when
//! `ROSTERFLOW_TEST_DATABASE_URL` names a server: bulk writes in one transaction, relations both ways, source
//! markers and versions, user match keys, keyset pages, tenant isolation.

use std::sync::Arc;

use rosterflow_model::directory::{new_id, ObjectKind, Relation, EDUCATION_CLASS, USER};
use rosterflow_store::directory::{Bulk, DirectoryStore, Link, ListQuery, Object, Related, Source};
use rosterflow_store::{open, StoreError, TenantId};
use serde_json::json;

async fn stores() -> Vec<Arc<dyn DirectoryStore>> {
    replicas().await.into_iter().map(|(a, _)| a).collect()
}

/// Each backend's store twice over one database (two PostgreSQL replicas; SQLite's one store, twice).
async fn replicas() -> Vec<(Arc<dyn DirectoryStore>, Arc<dyn DirectoryStore>)> {
    let dir = std::env::temp_dir().join(format!("rosterflow-dir-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = open(dir.join("db.sqlite3").to_str().unwrap()).await.unwrap().directory;
    let mut out = vec![(sqlite.clone(), sqlite)];
    if let Some(admin) = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let prefix = std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into());
        let name = format!("{prefix}dir_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{prefix}/{name}");
        out.push((open(&url).await.unwrap().directory, open(&url).await.unwrap().directory));
    }
    out
}

fn user(i: usize) -> Object {
    let doc = json!({"displayName": format!("User {i:04}"), "userPrincipalName": format!("U{i}@X.test"),
        "mailNickname": format!("u{i}"), "employeeId": format!("E{i}"), "student": {"externalId": format!("S{i}")}});
    Object::new(new_id(), ObjectKind::User, doc.as_object().unwrap().clone())
}

fn class(i: usize) -> Object {
    let doc =
        json!({"displayName": format!("Class {i}"), "mailNickname": format!("c{i}"), "externalId": format!("C{i}")});
    let mut o = Object::new(new_id(), ObjectKind::Group, doc.as_object().unwrap().clone());
    o.education = true;
    o
}

fn query<'a>(
    view: &'static rosterflow_model::directory::View,
    related: Option<Related>,
    limit: usize,
) -> ListQuery<'a> {
    ListQuery {
        view,
        kind: Some(view.kind),
        education: view.facet.is_some(),
        related,
        filter: None,
        search: None,
        visible_to: None,
        order: &[],
        after: None,
        limit,
    }
}

#[tokio::test]
async fn a_bulk_write_lands_whole_with_relations_both_ways() {
    for store in stores().await {
        let (t, other) = (TenantId(new_id()), TenantId(new_id()));
        let users: Vec<Object> = (0..1200).map(user).collect();
        let classes: Vec<Object> = (0..30).map(class).collect();
        let links: Vec<Link> = users
            .iter()
            .enumerate()
            .map(|(i, u)| Link { relation: Relation::Members, from: classes[i % 30].id.clone(), to: u.id.clone() })
            .collect();
        let bulk = Bulk {
            upserts: [users.clone(), classes.clone()].concat(),
            link: links,
            source: Some(Source::Run),
            ..Bulk::default()
        };
        store.apply(&t, bulk).await.unwrap();
        assert_eq!(store.count(&t, &query(&USER, None, 0)).await.unwrap(), 1200);
        assert_eq!(store.count(&other, &query(&USER, None, 0)).await.unwrap(), 0, "tenant-first");
        let members = Related::Of { relation: Relation::Members, of: classes[0].id.clone() };
        assert_eq!(store.count(&t, &query(&USER, Some(members), 0)).await.unwrap(), 40);
        let of_user = Related::Having { relation: Relation::Members, of: users[31].id.clone() };
        let page = store.list(&t, &query(&EDUCATION_CLASS, Some(of_user), 10)).await.unwrap();
        assert_eq!(page.objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), vec![classes[1].id.clone()]);
        // Keyset pages cover everything once.
        let mut q = query(&USER, None, 500);
        let mut seen = 0;
        loop {
            let page = store.list(&t, &q).await.unwrap();
            seen += page.objects.len();
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, 1200);
        // Match keys, folded, with the run's marker.
        let keys = store.user_keys(&t).await.unwrap();
        assert_eq!(keys.len(), 1200);
        let k = keys.iter().find(|k| k.id == users[7].id).unwrap();
        assert_eq!(k.user_principal_name.as_deref(), Some("u7@x.test"));
        assert_eq!((k.employee_id.as_deref(), k.student_external_id.as_deref()), (Some("e7"), Some("s7")));
        assert_eq!(k.source, Some(Source::Run));
        // A duplicate UPN fails the whole bulk: nothing of it lands.
        let mut dup = user(5);
        dup.id = new_id();
        let bulk = Bulk { upserts: vec![user(5000), dup], ..Bulk::default() };
        assert_eq!(store.apply(&t, bulk).await, Err(StoreError::Duplicate("userPrincipalName".into())));
        assert_eq!(store.count(&t, &query(&USER, None, 0)).await.unwrap(), 1200);
        // An edit bumps the version; deleting removes relations both ways.
        let edited = store
            .update(
                &t,
                &users[0].id,
                Box::new(|o| {
                    std::sync::Arc::make_mut(&mut o.doc).insert("department".into(), json!("Math"));
                    Ok(())
                }),
            )
            .await
            .unwrap();
        assert_eq!(edited.version, 2);
        assert_eq!(store.get(&t, &users[0].id).await.unwrap().unwrap().version, 2);
        let bulk = Bulk { deletes: vec![classes[0].id.clone(), users[1].id.clone()], ..Bulk::default() };
        store.apply(&t, bulk).await.unwrap();
        let of_user = Related::Having { relation: Relation::Members, of: users[30].id.clone() };
        assert_eq!(store.count(&t, &query(&EDUCATION_CLASS, Some(of_user), 0)).await.unwrap(), 0);
        let members = Related::Of { relation: Relation::Members, of: classes[1].id.clone() };
        assert_eq!(store.count(&t, &query(&USER, Some(members), 0)).await.unwrap(), 39);
        assert!(store.get_by_upn(&t, "U2@x.TEST").await.unwrap().is_some());
        assert!(store.get_by_upn(&other, "U2@x.TEST").await.unwrap().is_none());
    }
}

/// A bulk as large as a first run's takes the backends' bulk paths (SQLite: secondary indexes built after the
/// inserts; PostgreSQL: `COPY` through a temporary table); what it writes and the rules it is held to are the
/// same as a small one's.
#[tokio::test]
async fn a_large_bulk_keeps_the_unique_rules_and_both_ways_of_its_relations() {
    const USERS: usize = 50_000;
    for store in stores().await {
        let t = TenantId(new_id());
        let users: Vec<Object> = (0..USERS).map(user).collect();
        let classes: Vec<Object> = (0..100).map(class).collect();
        let links: Vec<Link> = users
            .iter()
            .enumerate()
            .map(|(i, u)| Link { relation: Relation::Members, from: classes[i % 100].id.clone(), to: u.id.clone() })
            .collect();
        // One duplicate UPN in the large bulk fails all of it.
        let mut dup = user(7);
        dup.id = new_id();
        let bulk = Bulk { upserts: [users.clone(), vec![dup]].concat(), source: Some(Source::Run), ..Bulk::default() };
        assert_eq!(store.apply(&t, bulk).await, Err(StoreError::Duplicate("userPrincipalName".into())));
        assert_eq!(store.count(&t, &query(&USER, None, 0)).await.unwrap(), 0, "nothing of a failed bulk lands");
        let bulk = Bulk {
            upserts: [users.clone(), classes.clone()].concat(),
            link: links,
            source: Some(Source::Run),
            ..Bulk::default()
        };
        store.apply(&t, bulk).await.unwrap();
        assert_eq!(store.count(&t, &query(&USER, None, 0)).await.unwrap(), USERS as u64);
        let found = store.get_by_upn(&t, "u49999@x.TEST").await.unwrap().expect("found by its UPN");
        assert_eq!(found.id, users[49_999].id.to_ascii_lowercase());
        let members = Related::Of { relation: Relation::Members, of: classes[3].id.clone() };
        assert_eq!(store.count(&t, &query(&USER, Some(members), 0)).await.unwrap(), (USERS / 100) as u64);
        let of_user = Related::Having { relation: Relation::Members, of: users[12_345].id.clone() };
        let page = store.list(&t, &query(&EDUCATION_CLASS, Some(of_user), 10)).await.unwrap();
        assert_eq!(page.objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), vec![classes[45].id.clone()]);
        // The unique rules hold after the bulk as before it: a later write that breaks them is refused.
        let mut dup = user(123);
        dup.id = new_id();
        let bulk = Bulk { upserts: vec![dup], ..Bulk::default() };
        assert_eq!(store.apply(&t, bulk).await, Err(StoreError::Duplicate("userPrincipalName".into())));
        let mut twin = class(9);
        twin.id = new_id();
        let bulk = Bulk { upserts: vec![twin], ..Bulk::default() };
        assert_eq!(store.apply(&t, bulk).await, Err(StoreError::Duplicate("mailNickname".into())));
    }
}

#[tokio::test]
async fn single_writes_check_what_they_touch() {
    for store in stores().await {
        let t = TenantId(new_id());
        let (u, c) = (user(1), class(1));
        store.create(&t, u.clone(), vec![]).await.unwrap();
        let mut same_id = user(2);
        same_id.id = u.id.clone();
        assert_eq!(store.create(&t, same_id, vec![]).await, Err(StoreError::Exists));
        let missing = Link { relation: Relation::Owners, from: c.id.clone(), to: new_id() };
        assert!(matches!(store.create(&t, c.clone(), vec![missing]).await, Err(StoreError::MissingRef { .. })));
        assert!(store.get(&t, &c.id).await.unwrap().is_none(), "the refused create left nothing");
        store.create(&t, c.clone(), vec![]).await.unwrap();
        let l = Link { relation: Relation::Owners, from: c.id.clone(), to: u.id.clone() };
        store.link(&t, l.clone()).await.unwrap();
        assert_eq!(store.link(&t, l.clone()).await, Err(StoreError::Exists));
        assert_eq!(
            store.link(&TenantId(new_id()), l.clone()).await.map_err(|e| matches!(e, StoreError::MissingRef { .. })),
            Err(true)
        );
        store.unlink(&t, l.clone()).await.unwrap();
        assert_eq!(store.unlink(&t, l).await, Err(StoreError::NotFound));
        store.delete(&t, &u.id).await.unwrap();
        assert_eq!(store.delete(&t, &u.id).await, Err(StoreError::NotFound));
    }
}

/// Navigation pages (a class's members, a user's classes) come in id order, the relation's own key order
/// without a sort, and keyset-page through every neighbour once.
#[tokio::test]
async fn navigation_pages_are_in_id_order_and_cover_every_neighbour_once() {
    for store in stores().await {
        let t = TenantId(new_id());
        let users: Vec<Object> = (0..45).map(user).collect();
        let classes: Vec<Object> = (0..12).map(class).collect();
        // Every user in class 0 (and 1 of every 3 in class 1, a group of other members); user 0 in every class.
        let mut link: Vec<Link> = users
            .iter()
            .map(|u| Link { relation: Relation::Members, from: classes[0].id.clone(), to: u.id.clone() })
            .collect();
        link.extend(users.iter().step_by(3).map(|u| Link {
            relation: Relation::Members,
            from: classes[1].id.clone(),
            to: u.id.clone(),
        }));
        link.extend(classes[1..].iter().map(|c| Link {
            relation: Relation::Members,
            from: c.id.clone(),
            to: users[0].id.clone(),
        }));
        let bulk = Bulk { upserts: [users.clone(), classes.clone()].concat(), link, ..Bulk::default() };
        store.apply(&t, bulk).await.unwrap();
        let walk = |related: Related, view, limit| {
            let store = store.clone();
            let t = t.clone();
            async move {
                let mut q = query(view, Some(related), limit);
                let mut ids = Vec::new();
                loop {
                    let page = store.list_stored(&t, &q).await.unwrap();
                    assert!(page.items.len() <= limit);
                    ids.extend(page.items.into_iter().map(|o| o.id));
                    match page.next {
                        Some(c) => q.after = Some(c),
                        None => return ids,
                    }
                }
            }
        };
        let sorted = |objects: &[Object]| {
            let mut ids: Vec<String> = objects.iter().map(|o| o.id.clone()).collect();
            ids.sort();
            ids
        };
        let members = Related::Of { relation: Relation::Members, of: classes[0].id.clone() };
        assert_eq!(walk(members, &USER, 7).await, sorted(&users));
        let every_third: Vec<Object> = users.iter().step_by(3).cloned().collect();
        let members = Related::Of { relation: Relation::Members, of: classes[1].id.clone() };
        assert_eq!(walk(members, &USER, 4).await, sorted(&every_third));
        let classes_of_user = Related::Having { relation: Relation::Members, of: users[0].id.clone() };
        assert_eq!(walk(classes_of_user, &EDUCATION_CLASS, 5).await, sorted(&classes));
    }
}

/// A navigation list's parent and page read together (`get_and_list_stored`: one statement on PostgreSQL)
/// answer what `get` and `list_stored` answer apart: every page, in `$orderby` order too (the sort keys come
/// back for the cursor), and for a parent that is missing or another tenant's, no parent.
#[tokio::test]
async fn a_parent_and_its_page_read_together_answer_as_apart() {
    for store in stores().await {
        let (t, other) = (TenantId(new_id()), TenantId(new_id()));
        let users: Vec<Object> = (0..23).map(user).collect();
        let class = class(0);
        let link: Vec<Link> = users
            .iter()
            .map(|u| Link { relation: Relation::Members, from: class.id.clone(), to: u.id.clone() })
            .collect();
        let bulk = Bulk { upserts: [users.clone(), vec![class.clone()]].concat(), link, ..Bulk::default() };
        store.apply(&t, bulk).await.unwrap();
        let by_name = [("displayName".to_string(), true)];
        for order in [&[][..], &by_name[..]] {
            let mut q = query(&USER, Some(Related::Of { relation: Relation::Members, of: class.id.clone() }), 5);
            q.order = order;
            let mut pages = 0;
            loop {
                let apart = store.list_stored(&t, &q).await.unwrap();
                let (parent, together) =
                    store.get_and_list_stored(&t, &class.id.to_ascii_uppercase(), &q).await.unwrap();
                assert_eq!(parent, store.get(&t, &class.id).await.unwrap());
                assert!(parent.is_some());
                assert_eq!(together.items, apart.items);
                assert_eq!(together.next.as_ref().map(|c| c.encode("s")), apart.next.as_ref().map(|c| c.encode("s")));
                pages += 1;
                match together.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
            assert_eq!(pages, 5, "23 members in pages of 5");
        }
        // Another tenant sees neither the class nor its members; a missing parent has an empty page.
        let q = query(&USER, Some(Related::Of { relation: Relation::Members, of: class.id.clone() }), 5);
        let (parent, page) = store.get_and_list_stored(&other, &class.id, &q).await.unwrap();
        assert!(parent.is_none() && page.items.is_empty() && page.next.is_none());
        let missing = new_id();
        let q = query(&USER, Some(Related::Of { relation: Relation::Members, of: missing.clone() }), 5);
        let (parent, page) = store.get_and_list_stored(&t, &missing, &q).await.unwrap();
        assert!(parent.is_none() && page.items.is_empty());
    }
}

/// Navigation lists read together (`get_and_list_stored` from many requests at once: on PostgreSQL the lists
/// asked for while statements are in flight share one, `directory/postgres/navs.rs`) answer what each list
/// read alone answers: members and a user's classes, first pages and `$skiptoken` pages, empty lists, missing
/// parents, another tenant's parent, the same list asked for several times at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn navigation_lists_read_together_answer_as_each_alone() {
    for store in stores().await {
        let (t, other) = (TenantId(new_id()), TenantId(new_id()));
        let users: Vec<Object> = (0..40).map(user).collect();
        let classes: Vec<Object> = (0..8).map(class).collect();
        // Class c has the users i with i % (c + 1) == 0 (class 0 every user, class 7 six of them) ...
        let mut link: Vec<Link> = Vec::new();
        for (c, class) in classes.iter().enumerate() {
            for (i, u) in users.iter().enumerate().filter(|(i, _)| i % (c + 1) == 0) {
                let relation = if i == 0 { Relation::Owners } else { Relation::Members };
                link.push(Link { relation, from: class.id.clone(), to: u.id.clone() });
            }
        }
        // ... and one class has nobody.
        let empty = class(99);
        let upserts = [users.clone(), classes.clone(), vec![empty.clone()]].concat();
        store.apply(&t, Bulk { upserts, link, ..Bulk::default() }).await.unwrap();
        // Every list asked for, each with its page's cursor chain walked alone first.
        let mut asks: Vec<(TenantId, String, ListQuery<'static>)> = Vec::new();
        let mut lists: Vec<(TenantId, String, Related, &'static rosterflow_model::directory::View)> = Vec::new();
        for class in classes.iter().chain([&empty]) {
            for relation in [Relation::Members, Relation::Owners] {
                lists.push((t.clone(), class.id.clone(), Related::Of { relation, of: class.id.clone() }, &USER));
            }
        }
        for u in &users[..6] {
            let related = Related::Having { relation: Relation::Members, of: u.id.clone() };
            lists.push((t.clone(), u.id.clone(), related, &EDUCATION_CLASS));
        }
        let missing = new_id();
        lists.push((t.clone(), missing.clone(), Related::Of { relation: Relation::Members, of: missing }, &USER));
        let other_class = classes[0].id.clone();
        lists.push((other, other_class.clone(), Related::Of { relation: Relation::Members, of: other_class }, &USER));
        for (tenant, id, related, view) in lists {
            for limit in [7, 100] {
                let mut q = query(view, Some(related.clone()), limit);
                loop {
                    asks.push((tenant.clone(), id.clone(), q.clone()));
                    match store.list_stored(&tenant, &q).await.unwrap().next {
                        Some(c) => q.after = Some(c),
                        None => break,
                    }
                }
            }
        }
        assert!(asks.len() > 40, "{} lists", asks.len());
        // Every list alone, then all of them at once, three times over (the same list in flight together).
        let mut alone = Vec::new();
        for (tenant, id, q) in &asks {
            let parent = store.get(tenant, id).await.unwrap();
            let page = store.list_stored(tenant, q).await.unwrap();
            alone.push((parent, page.items, page.next.map(|c| c.encode("s"))));
        }
        let asks = Arc::new(asks);
        let tasks: Vec<_> = (0..3 * asks.len())
            .map(|n| {
                let (store, asks) = (store.clone(), asks.clone());
                tokio::spawn(async move {
                    let (tenant, id, q) = &asks[n % asks.len()];
                    // Upper case as a request may name it.
                    let (parent, page) = store.get_and_list_stored(tenant, &id.to_ascii_uppercase(), q).await.unwrap();
                    (n % asks.len(), (parent, page.items, page.next.map(|c| c.encode("s"))))
                })
            })
            .collect();
        for task in tasks {
            let (i, together) = task.await.unwrap();
            assert_eq!(together, alone[i], "list {i}");
        }
    }
}

/// Navigation lists are never stale: many member lists in flight on two replicas while members are added to
/// a class one at a time through both, and every list that starts after an addition was acknowledged shows
/// it (on PostgreSQL a list waits for a statement sent after it arrived, `directory/postgres/navs.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn navigation_lists_in_flight_with_writes_see_every_acknowledged_write() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    for (a, b) in replicas().await {
        let t = TenantId(new_id());
        let users: Vec<Object> = (0..30).map(user).collect();
        let classes: Vec<Object> = (0..4).map(class).collect();
        let upserts = [users.clone(), classes.clone()].concat();
        a.apply(&t, Bulk { upserts, ..Bulk::default() }).await.unwrap();
        let acked: Arc<Vec<AtomicUsize>> = Arc::new(classes.iter().map(|_| AtomicUsize::new(0)).collect());
        let (users, classes) = (Arc::new(users), Arc::new(classes));
        let mut tasks = Vec::new();
        // One writer per class, alternating replicas: class c gets users 0, 1, 2, ... as members in turn.
        for c in 0..classes.len() {
            let (a, b, t, acked, users, classes) =
                (a.clone(), b.clone(), t.clone(), acked.clone(), users.clone(), classes.clone());
            tasks.push(tokio::spawn(async move {
                for (i, u) in users.iter().enumerate() {
                    let l = Link { relation: Relation::Members, from: classes[c].id.clone(), to: u.id.clone() };
                    if i % 2 == 0 { &a } else { &b }.link(&t, l).await.unwrap();
                    acked[c].store(i + 1, Ordering::SeqCst);
                }
            }));
        }
        // Readers on both replicas, many lists in flight at once.
        for r in 0..16usize {
            let store = if r % 2 == 0 { a.clone() } else { b.clone() };
            let (t, acked, classes) = (t.clone(), acked.clone(), classes.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..40usize {
                    let c = (r + i) % classes.len();
                    let floor = acked[c].load(Ordering::SeqCst);
                    let related = Related::Of { relation: Relation::Members, of: classes[c].id.clone() };
                    let q = query(&USER, Some(related), 100);
                    let (parent, page) = store.get_and_list_stored(&t, &classes[c].id, &q).await.unwrap();
                    assert!(parent.is_some());
                    let n = page.items.len();
                    assert!(n >= floor, "class {c}: {n} members listed after {floor} were acknowledged");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        for store in [&a, &b] {
            for class in classes.iter() {
                let related = Related::Of { relation: Relation::Members, of: class.id.clone() };
                let (_, page) =
                    store.get_and_list_stored(&t, &class.id, &query(&USER, Some(related), 100)).await.unwrap();
                assert_eq!(page.items.len(), 30);
            }
        }
    }
}

/// Objects a run renders while planning (`Bulk::rendered`, `Object::render`) are written exactly as the same
/// objects given as `upserts` are, through the small and the bulk paths (SQLite: indexes built after the
/// inserts from 50k rows; PostgreSQL: `COPY` from 20k), and are held to the same unique rules.
#[tokio::test]
async fn rendered_objects_are_written_as_their_objects_are() {
    for store in stores().await {
        for n in [3, 50_000] {
            let objects: Vec<Object> = (0..n).map(|i| if i % 10 == 0 { class(i) } else { user(i) }).collect();
            let rendered: Vec<_> = objects.iter().map(Object::render).collect();
            assert_eq!(rendered[1].doc(), *objects[1].doc, "the text is the document");
            assert_eq!(rendered[1].upn_folded(), Some("u1@x.test"));
            let (as_objects, as_rendered) = (TenantId(new_id()), TenantId(new_id()));
            let bulk = Bulk { upserts: objects.clone(), source: Some(Source::Run), ..Bulk::default() };
            store.apply(&as_objects, bulk).await.unwrap();
            let bulk = Bulk { rendered: rendered.clone(), source: Some(Source::Run), ..Bulk::default() };
            store.apply(&as_rendered, bulk).await.unwrap();
            for t in [&as_objects, &as_rendered] {
                assert_eq!(store.count(t, &query(&USER, None, 0)).await.unwrap(), (n - n.div_ceil(10)) as u64);
            }
            for o in objects.iter().step_by(997.min(n - 1).max(1)) {
                let a = store.get(&as_objects, &o.id).await.unwrap().expect("written as an object");
                let b = store.get(&as_rendered, &o.id).await.unwrap().expect("written rendered");
                assert_eq!(a, b);
                assert_eq!(b.source, Source::Run);
            }
            let by_upn = store.get_by_upn(&as_rendered, "U2@x.test").await.unwrap().expect("found by its UPN");
            assert_eq!(by_upn.id, objects[2].id.to_ascii_lowercase());
            let mut dup = user(1);
            dup.id = new_id();
            let bulk = Bulk { rendered: [rendered, vec![dup.render()]].concat(), ..Bulk::default() };
            assert_eq!(
                store.apply(&TenantId(new_id()), bulk).await,
                Err(StoreError::Duplicate("userPrincipalName".into()))
            );
        }
    }
}
