//! Upload sessions over real HTTP: getUploadSession, the Azure Storage emulation under `/rosterflow/storage/`
//! (as the Azure SDKs speak it; the SDKs themselves drive `tests/sdk/test_upload_sessions.py`), what the
//! validator reads back (`Files::entries`), hostile input, limits, restarts and the sweeper.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use reqwest::{Method, StatusCode};
use rosterflow_server::config::ServeArgs;
use rosterflow_server::storage::sas;
use rosterflow_store::files::{EntrySource, ProblemKind};
use rosterflow_store::TenantId;
use serde_json::{json, Value};

use crate::common::*;

const LAKE: &str = "microsoft.graph.industryData.azureDataLakeConnector";

/// A data lake connector in the client's tenant.
pub(crate) async fn lake(c: &Client) -> String {
    let ss = c.post("sourceSystems", json!({"displayName": "SIS", "userMatchingSettings": []})).await.expect(201).id();
    let body = json!({
        "@odata.type": format!("#{LAKE}"),
        "displayName": "CSV connector",
        "sourceSystem@odata.bind": format!("https://graph.microsoft.com/beta/external/industryData/sourceSystems('{ss}')")
    });
    c.post("dataConnectors", body).await.expect(201).id()
}

/// A fileUploadSession and raw HTTP against its container.
pub(crate) struct Session {
    pub(crate) body: Value,
    http: reqwest::Client,
}

impl Session {
    pub(crate) async fn get(c: &Client, connector: &str, reset: bool) -> Session {
        let op = if reset { "getUploadSession(resetSession=true)" } else { "getUploadSession" };
        let r = c.get(&format!("dataConnectors/{connector}/{LAKE}/{op}")).await;
        Session { body: r.expect(200).body.clone(), http: reqwest::Client::new() }
    }

    pub(crate) fn container(&self) -> &str {
        self.body["containerId"].as_str().unwrap()
    }

    pub(crate) fn url(&self) -> &str {
        self.body["sessionUrl"].as_str().unwrap()
    }

    /// The session URL with `path` (already encoded) after the container and `query` before the signature.
    fn at(&self, path: &str, query: &str) -> String {
        let (base, sas) = self.url().split_once('?').unwrap();
        let path = if path.is_empty() { String::new() } else { format!("/{path}") };
        let query = if query.is_empty() { String::new() } else { format!("{query}&") };
        format!("{base}{path}?{query}{sas}")
    }

    async fn send(
        &self,
        method: Method,
        url: String,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut req = self.http.request(method, url).header("x-ms-version", "2025-01-05").body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        Answer { status, headers, body: r.bytes().await.unwrap_or_default().to_vec() }
    }

    pub(crate) async fn put_blob(&self, name: &str, data: &[u8]) -> Answer {
        let url = self.at(name, "");
        self.send(Method::PUT, url, &[("x-ms-blob-type", "BlockBlob")], data.to_vec()).await
    }

    async fn get_blob(&self, name: &str) -> Answer {
        self.send(Method::GET, self.at(name, ""), &[], Vec::new()).await
    }
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    #[track_caller]
    pub(crate) fn ok(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", String::from_utf8_lossy(&self.body));
        assert!(self.headers.contains_key("x-ms-request-id"));
        self
    }

    /// An Azure error: status, `x-ms-error-code`, and the code in the body (XML or Data Lake JSON).
    #[track_caller]
    pub(crate) fn error(&self, status: u16, code: &str) -> String {
        let text = String::from_utf8_lossy(&self.body).into_owned();
        assert_eq!(self.status.as_u16(), status, "{text}");
        assert_eq!(self.headers.get("x-ms-error-code").and_then(|v| v.to_str().ok()), Some(code), "{text}");
        if self.headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/xml")) {
            assert!(text.contains(&format!("<Error><Code>{code}</Code><Message>")), "{text}");
        } else {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["error"]["code"], code, "{text}");
        }
        text
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn read_all(stream: rosterflow_store::files::ByteStream) -> std::io::Result<Vec<u8>> {
    use futures_util::TryStreamExt;
    let pieces: Vec<bytes::Bytes> = stream.try_collect().await?;
    Ok(pieces.concat())
}

#[tokio::test]
async fn uploads_by_blob_and_data_lake_are_what_the_validator_reads() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let s = Session::get(&c, &connector, false).await;
    assert!(s.url().contains(&format!("/rosterflow/storage/{}?sv=", s.container())), "{}", s.url());

    // Put Blob, with Content-MD5 checked and echoed.
    let orgs = b"sourcedId,name,type\n1,District,district\n";
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5_of(orgs));
    let url = s.at("orgs.csv", "");
    let r = s.send(Method::PUT, url, &[("x-ms-blob-type", "BlockBlob"), ("content-md5", &md5)], orgs.to_vec()).await;
    r.ok(201);
    assert_eq!(r.headers["content-md5"], md5.as_str());
    assert!(r.headers["etag"].to_str().unwrap().starts_with("\"0x"));
    // Blocks: staged blocks are invisible until the list commits them, in the list's order.
    for (id, data) in [("QUFB", "first,"), ("QkJC", "second,"), ("Q0ND", "never")] {
        s.send(Method::PUT, s.at("users.csv", &format!("comp=block&blockid={id}")), &[], data).await.ok(201);
    }
    s.get_blob("users.csv").await.error(404, "BlobNotFound");
    let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>QkJC</Latest><Uncommitted>QUFB</Uncommitted></BlockList>";
    s.send(Method::PUT, s.at("users.csv", "comp=blocklist"), &[], list).await.ok(201);
    assert_eq!(s.get_blob("users.csv").await.ok(200).body, b"second,first,");
    // The uncommitted block that was left out is gone: a list naming it now is invalid.
    let stale = "<BlockList><Uncommitted>Q0ND</Uncommitted></BlockList>";
    s.send(Method::PUT, s.at("users.csv", "comp=blocklist"), &[], stale).await.error(400, "InvalidBlockList");
    assert_eq!(s.get_blob("users.csv").await.ok(200).body, b"second,first,", "a refused commit changes nothing");
    // Data Lake: create, append, flush.
    let roles = b"userSourcedId,orgSourcedId,role\n";
    s.send(Method::PUT, s.at("roles.csv", "resource=file"), &[], Vec::new()).await.ok(201);
    s.send(Method::PATCH, s.at("roles.csv", "action=append&position=0"), &[], roles.to_vec()).await.ok(202);
    assert_eq!(s.get_blob("roles.csv").await.ok(200).body, b"", "appends are invisible until flushed");
    let flush = format!("action=flush&position={}", roles.len());
    s.send(Method::PATCH, s.at("roles.csv", &flush), &[], Vec::new()).await.ok(200);
    // A zip's entries are files too.
    let zip = zip_of(&[("classes.csv", b"sourcedId\n"), ("enrollments.csv", b"classSourcedId\n")]);
    s.put_blob("more.zip", &zip).await.ok(201);
    // Ranges, as the SDKs read large blobs.
    let r = s.send(Method::GET, s.at("orgs.csv", ""), &[("x-ms-range", "bytes=0-8")], Vec::new()).await;
    assert_eq!(r.ok(206).body, b"sourcedId");
    assert_eq!(r.headers["content-range"], format!("bytes 0-8/{}", orgs.len()).as_str());
    let listing = s.send(Method::GET, s.at("", "restype=container&comp=list"), &[], Vec::new()).await;
    let text = String::from_utf8(listing.ok(200).body.clone()).unwrap();
    for name in ["more.zip", "orgs.csv", "roles.csv", "users.csv"] {
        assert!(text.contains(&format!("<Name>{name}</Name>")), "{text}");
    }

    // The validator's view.
    let files = &server.state.stores.files;
    let tenant = TenantId(server.tenant.clone());
    let open = files.open_container(&tenant, &connector).await.unwrap().expect("an open container");
    assert_eq!(open.id, s.container());
    let listing = files.entries(&tenant, &open.id).await.unwrap();
    assert!(listing.problems.is_empty(), "{:?}", listing.problems);
    let mut names: Vec<_> = listing.files.iter().map(|f| f.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["classes.csv", "enrollments.csv", "orgs.csv", "roles.csv", "users.csv"]);
    for f in &listing.files {
        let bytes = read_all(files.open_entry(&tenant, &open.id, f).await.unwrap()).await.unwrap();
        assert_eq!(bytes.len() as u64, f.size, "{}", f.name);
        if f.name == "enrollments.csv" {
            assert!(matches!(f.source, EntrySource::ZipEntry { .. }));
            assert_eq!(bytes, b"classSourcedId\n");
        }
    }
    // Finalized (after validation): read-only for the validator, refused to the session's signature.
    files.finalize(&tenant, &open.id).await.unwrap();
    s.put_blob("late.csv", b"x").await.error(403, "AuthenticationFailed");
    s.get_blob("orgs.csv").await.error(403, "AuthenticationFailed");
    assert_eq!(files.entries(&tenant, &open.id).await.unwrap().files.len(), 5);
    let next = Session::get(&c, &connector, false).await;
    assert_ne!(next.container(), s.container(), "a validated container is not handed out again");
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

#[tokio::test]
async fn only_the_exact_signature_of_an_open_container_is_accepted() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let s = Session::get(&c, &connector, false).await;
    s.put_blob("users.csv", b"x").await.ok(201);
    let (base, query) = s.url().split_once('?').unwrap();
    let blob = format!("{base}/users.csv");
    let send = |url: String| async move { reqwest::get(url).await.unwrap() };
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 403, "{}", r.url().clone());
        assert_eq!(r.headers()["x-ms-error-code"], "AuthenticationFailed");
        r.text().await.unwrap()
    };
    assert!(refused(send(blob.clone()).await).await.contains("no shared access signature"));
    let r = reqwest::Client::new().get(&blob).bearer_auth(server.token(&all_permissions())).send().await.unwrap();
    assert!(refused(r).await.contains("Authorization header"));
    // Forged: one character of the signature changed (a base64 letter or digit: a percent-encoded `+` or `/`
    // changed inside its `%XX` would make the signature malformed rather than wrong); truncated: cut short.
    let sig = query.find("sig=").unwrap() + 4;
    let escaped = |i: usize| query[sig..i].ends_with('%') || query[sig..i].len() >= 2 && query[..i - 1].ends_with('%');
    let at = (sig..query.len()).find(|&i| query.as_bytes()[i].is_ascii_alphanumeric() && !escaped(i)).unwrap();
    let flipped = if &query[at..at + 1] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &query[..at], &query[at + 1..]);
    assert!(refused(send(format!("{blob}?{forged}")).await).await.contains("Signature did not match"));
    refused(send(format!("{blob}?{}", &query[..query.len() - 5])).await).await;
    refused(send(format!("{blob}?{}", query.replace("sr=c", "sr=b"))).await).await;
    refused(send(format!("{blob}?{query}&skoid=x")).await).await;
    // Extended: a later expiry the server never signed.
    let later: Vec<String> = query
        .split('&')
        .map(|p| if p.starts_with("se=") { "se=2099-01-01T00%3A00%3A00Z".into() } else { p.into() })
        .collect();
    let later = later.join("&");
    assert!(refused(send(format!("{blob}?{later}")).await).await.contains("Signature did not match"));
    // Another container's, another tenant's.
    let other = Session::get(&c, &lake(&c).await, false).await;
    let (_, other_query) = other.url().split_once('?').unwrap();
    refused(send(format!("{blob}?{other_query}")).await).await;
    let theirs = server.as_("IndustryData-SourceSystem.ReadWrite.All IndustryData-DataConnector.ReadWrite.All");
    let theirs = client_for(&theirs.url, server.token_for("fabrikam", &all_permissions()));
    let foreign = Session::get(&theirs, &lake(&theirs).await, false).await;
    let (_, foreign_query) = foreign.url().split_once('?').unwrap();
    refused(send(format!("{blob}?{foreign_query}")).await).await;
    // Genuine but expired: signed with the server's own key, an hour ago.
    let key = server.state.storage.key;
    let expired = sas::sign(&key, &server.tenant, s.container(), rosterflow_store::files::now_micros() - 3_600_000_000);
    assert!(refused(send(format!("{blob}?{expired}")).await).await.contains("expired"));
    // The genuine one still works; after a reset it is refused (re-use of an ended session).
    s.get_blob("users.csv").await.ok(200);
    Session::get(&c, &connector, true).await;
    assert!(refused(send(format!("{blob}?{query}")).await).await.contains("reset or has expired"));
    // A container id that exists nowhere answers like a wrong signature; a name that is no id is a 400.
    let nowhere = format!("{}?{query}", blob.replace(s.container(), "00000000-0000-4000-8000-000000000000"));
    refused(send(nowhere).await).await;
    let r = send(format!("{}/rosterflow/storage/..%2F..%2Fbeta?{query}", server.url)).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn hostile_names_bodies_and_headers_are_refused_and_write_nothing() {
    let dir = temp_dir();
    let mut args = serve_args(&dir).await;
    args.uploads.upload_max_file_bytes = 4096;
    let server = TestServer::start_with(args, "hostile").await;
    let c = server.admin();
    let s = Session::get(&c, &lake(&c).await, false).await;
    for name in
        ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a%5C..%5Cb", "a%00b", "a/../../b", "a//b", "%2E%2E", "%FF%FE"]
    {
        let url = s.at(name, "");
        let r = s.send(Method::PUT, url, &[("x-ms-blob-type", "BlockBlob")], "x").await;
        assert!(r.status == 400 || r.status == 404, "{name}: {r:?}");
        if r.status == 400 {
            r.error(400, "InvalidResourceName");
        }
    }
    s.put_blob(&"n".repeat(1025), b"x").await.error(400, "InvalidResourceName");
    // Bodies past the limit: refused from Content-Length before reading, or while streaming a chunked body.
    s.put_blob("big.csv", &[b'a'; 5000]).await.error(413, "RequestBodyTooLarge");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..10).map(|_| Ok(vec![b'a'; 1000])).collect();
    let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let url = s.at("big.csv", "");
    s.send(Method::PUT, url, &[("x-ms-blob-type", "BlockBlob")], chunked).await.error(413, "RequestBodyTooLarge");
    // Blocks that would add up past the limit.
    for id in ["QUFB", "QkJC"] {
        let r =
            s.send(Method::PUT, s.at("blocks.csv", &format!("comp=block&blockid={id}")), &[], vec![b'b'; 3000]).await;
        if id == "QUFB" {
            r.ok(201);
        } else {
            r.error(413, "RequestBodyTooLarge");
        }
    }
    // Malformed requests.
    let put = |q: &str| s.at("x.csv", q);
    s.send(Method::PUT, put("comp=block&blockid=%%%"), &[], "x").await.error(400, "InvalidBlockId");
    s.send(Method::PUT, put("comp=block"), &[], "x").await.error(400, "MissingRequiredQueryParameter");
    s.send(Method::PUT, put(""), &[("x-ms-blob-type", "PageBlob")], "x").await.error(400, "InvalidHeaderValue");
    s.send(Method::PUT, put(""), &[], "x").await.error(400, "MissingRequiredHeader");
    let bad_md5 = [("x-ms-blob-type", "BlockBlob"), ("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")];
    s.send(Method::PUT, put(""), &bad_md5, "x").await.error(400, "Md5Mismatch");
    s.send(Method::PUT, put(""), &[("x-ms-blob-type", "BlockBlob"), ("content-md5", "nope")], "x")
        .await
        .error(400, "InvalidMd5");
    let bomb = "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><BlockList><Latest>&b;</Latest></BlockList>";
    s.send(Method::PUT, put("comp=blocklist"), &[], bomb).await.error(400, "InvalidXmlDocument");
    let deep = format!("<BlockList>{}</BlockList>", "<Latest>".repeat(10_000));
    s.send(Method::PUT, put("comp=blocklist"), &[], deep).await.error(400, "InvalidXmlDocument");
    // The server answers before it has read all of a body this large and closes the connection: a client may
    // see the 413 or only the reset while it is still sending.
    let huge = s.http.put(put("comp=blocklist")).body(vec![b' '; 9 * 1024 * 1024]).send().await;
    if let Ok(r) = huge {
        assert_eq!(r.status(), 413);
        assert_eq!(r.headers()["x-ms-error-code"], "RequestBodyTooLarge");
    }
    s.send(Method::PUT, put("comp=appendblock"), &[], "x").await.error(400, "UnsupportedQueryParameter");
    s.send(Method::PATCH, put("action=append&position=-1"), &[], "x").await.error(400, "InvalidQueryParameterValue");
    s.send(Method::PATCH, put("action=append"), &[], "x").await.error(400, "MissingRequiredQueryParameter");
    s.send(Method::PATCH, put("action=append&position=99999999999999999999"), &[], "x")
        .await
        .error(400, "InvalidQueryParameterValue");
    s.send(Method::PATCH, put("action=setAccessControl"), &[], "x").await.error(400, "UnsupportedQueryParameter");
    s.send(Method::PUT, put("resource=directory"), &[], "").await.error(400, "UnsupportedQueryParameter");
    s.put_blob("r.csv", b"0123456789").await.ok(201);
    s.send(Method::GET, s.at("r.csv", ""), &[("range", "bytes=20-")], Vec::new()).await.error(416, "InvalidRange");
    s.send(Method::GET, s.at("r.csv", ""), &[("range", "bytes=5-1")], Vec::new())
        .await
        .error(400, "InvalidHeaderValue");
    s.send(Method::POST, s.at("r.csv", ""), &[], Vec::new()).await.error(405, "UnsupportedHttpVerb");
    let huge_query = format!("x={}", "a".repeat(9000));
    s.send(Method::GET, s.at("r.csv", &huge_query), &[], Vec::new()).await.error(403, "AuthenticationFailed");

    // Nothing was written but r.csv (one object) and the one staged block, all inside the container's folder.
    let listing = server.state.stores.files.entries(&TenantId("hostile".into()), s.container()).await.unwrap();
    assert_eq!(listing.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["r.csv"]);
    let root = files_dir(&server);
    let objects = files_under(&root.join(s.container()));
    assert_eq!(objects.len(), 2, "{objects:?}");
    let strays: Vec<_> = files_under(&root).into_iter().filter(|p| !p.starts_with(root.join(s.container()))).collect();
    assert!(strays.iter().all(|p| p.components().count() == root.components().count() + 2), "{strays:?}");
    c.get("dataConnectors").await.expect(200); // the server is unharmed
}

/// Where this server keeps uploaded files (a local directory in these tests).
fn files_dir(server: &TestServer) -> std::path::PathBuf {
    match &server.state.stores.files.config().location {
        rosterflow_store::files::Location::Local(dir) => dir.clone(),
        other => panic!("not a local store: {other:?}"),
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[tokio::test]
async fn limits_are_enforced_with_clear_errors() {
    let dir = temp_dir();
    let mut args: ServeArgs = serve_args(&dir).await;
    args.uploads.upload_max_files = 2;
    args.uploads.upload_max_containers = 1;
    let server = TestServer::start_with(args, &format!("limits-{}", uuid::Uuid::new_v4())).await;
    let c = server.admin();
    let s = Session::get(&c, &lake(&c).await, false).await;
    s.put_blob("a.csv", b"a").await.ok(201);
    s.send(Method::PUT, s.at("b.csv", "comp=block&blockid=QUFB"), &[], "b").await.ok(201);
    let text = s.put_blob("c.csv", b"c").await.error(409, "FileCountExceedsLimit");
    assert!(text.contains("--upload-max-files"), "{text}");
    s.put_blob("a.csv", b"again").await.ok(201); // replacing a file is not a new one
    let second = lake(&c).await;
    let r = c.get(&format!("dataConnectors/{second}/{LAKE}/getUploadSession")).await;
    assert!(r.error(409)["message"].as_str().unwrap().contains("open upload sessions"), "{}", r.text);
}

#[tokio::test]
async fn get_upload_session_is_for_data_lake_connectors_in_the_callers_tenant() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let ss = c.post("sourceSystems", json!({"displayName": "SIS", "userMatchingSettings": []})).await.id();
    let api = c
        .post(
            "dataConnectors",
            json!({"@odata.type": "#microsoft.graph.industryData.oneRosterApiDataConnector", "displayName": "API",
                   "sourceSystem@odata.bind": format!("https://graph.microsoft.com/beta/external/industryData/sourceSystems('{ss}')"),
                   "apiFormat": "oneRoster", "baseUrl": "https://example.org/ims/oneroster/v1p1", "apiVersion": "1.1",
                   "isContactsEnabled": false, "isDemographicsEnabled": false, "isFlagsEnabled": false,
                   "credential": {"@odata.type": "#microsoft.graph.industryData.oAuth2ClientCredential",
                                  "displayName": "c", "clientId": "x", "clientSecret": "y", "tokenUrl": "https://example.org/t"}}),
        )
        .await
        .expect(201)
        .id();
    c.get(&format!("dataConnectors/{api}/getUploadSession")).await.error(404);
    c.get(&format!("dataConnectors/{api}/{LAKE}/getUploadSession")).await.error(404);
    c.get(&format!("dataConnectors/{connector}/getUploadSession(resetSession=maybe)")).await.error(400);
    let s = c.get(&format!("dataConnectors/{connector}/getUploadSession")).await;
    let body = &s.expect(200).body;
    assert_eq!(
        body["@odata.context"],
        format!("{}/beta/$metadata#microsoft.graph.industryData.fileUploadSession", server.url)
    );
    for k in ["containerExpirationDateTime", "sessionExpirationDateTime"] {
        assert!(body[k].as_str().unwrap().ends_with('Z'), "{body}");
    }
    server
        .as_("IndustryData-DataConnector.Read.All")
        .get(&format!("dataConnectors/{connector}/getUploadSession"))
        .await
        .error(403);
    let theirs = client_for(&server.url, server.token_for("fabrikam", &all_permissions()));
    theirs.get(&format!("dataConnectors/{connector}/getUploadSession")).await.error(404);
}

#[tokio::test]
async fn a_zip_with_unsafe_entries_or_a_file_also_outside_it_is_catastrophic() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let s = Session::get(&c, &connector, false).await;
    s.put_blob("users.csv", b"sourcedId\n").await.ok(201);
    let zip =
        zip_of(&[("users.csv", b"sourcedId\n"), ("../orgs.csv", b"x"), ("dir/roles.csv", b"x"), ("inner.zip", b"PK")]);
    s.put_blob("roster.zip", &zip).await.ok(201);
    s.put_blob("broken.zip", b"PK\x03\x04 not really").await.ok(201);
    let tenant = TenantId(server.tenant.clone());
    let listing = server.state.stores.files.entries(&tenant, s.container()).await.unwrap();
    let mut kinds: Vec<_> = listing.problems.iter().map(|p| (p.kind, p.file.as_str())).collect();
    kinds.sort_by_key(|(_, f)| f.to_string());
    assert_eq!(
        kinds,
        [
            (ProblemKind::Malformed, "broken.zip"),
            (ProblemKind::NestedPath, "roster.zip/../orgs.csv"),
            (ProblemKind::NestedPath, "roster.zip/dir/roles.csv"),
            (ProblemKind::UnsupportedEntry, "roster.zip/inner.zip"),
            (ProblemKind::Duplicate, "users.csv"),
        ]
    );
    let duplicate = listing.problems.iter().find(|p| p.kind == ProblemKind::Duplicate).unwrap();
    assert!(duplicate.message.contains("roster.zip/users.csv"), "{}", duplicate.message);
    assert_eq!(listing.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["users.csv"]);
}

#[tokio::test]
async fn acknowledged_uploads_survive_kill_9() {
    let dir = temp_dir();
    let port = free_port();
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let mut process = spawn_binary(&dir, port).await;
    let c = client_for(&process.url, token(&dir, &tenant, &all_permissions()));
    let s = Session::get(&c, &lake(&c).await, false).await;
    s.put_blob("orgs.csv", b"sourcedId\n1\n").await.ok(201);
    let ids: Vec<String> = (0..3).map(|i| b64(&format!("block-{i}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        let q = format!(
            "comp=block&blockid={}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        s.send(Method::PUT, s.at("users.csv", &q), &[], format!("part{i};")).await.ok(201);
    }
    s.send(Method::PUT, s.at("roles.csv", "resource=file"), &[], Vec::new()).await.ok(201);
    s.send(Method::PATCH, s.at("roles.csv", "action=append&position=0"), &[], "staged").await.ok(202);
    process.kill9();

    let mut process = spawn_binary(&dir, port).await;
    assert_eq!(s.get_blob("orgs.csv").await.ok(200).body, b"sourcedId\n1\n");
    let list =
        format!("<BlockList>{}</BlockList>", ids.iter().map(|i| format!("<Latest>{i}</Latest>")).collect::<String>());
    s.send(Method::PUT, s.at("users.csv", "comp=blocklist"), &[], list).await.ok(201);
    assert_eq!(s.get_blob("users.csv").await.ok(200).body, b"part0;part1;part2;");
    s.send(Method::PATCH, s.at("roles.csv", "action=flush&position=6"), &[], Vec::new()).await.ok(200);
    assert_eq!(s.get_blob("roles.csv").await.ok(200).body, b"staged");
    process.kill9();
}

#[tokio::test]
async fn the_sweeper_removes_expired_and_reset_containers() {
    let dir = temp_dir();
    let mut args = serve_args(&dir).await;
    args.uploads.upload_session_seconds = 1;
    args.uploads.upload_container_seconds = 2;
    args.uploads.upload_sweep_seconds = 1;
    let server = TestServer::start_with(args, &format!("sweep-{}", uuid::Uuid::new_v4())).await;
    let c = server.admin();
    let connector = lake(&c).await;
    let old = Session::get(&c, &connector, false).await;
    old.put_blob("users.csv", b"x").await.ok(201);
    let kept = Session::get(&c, &connector, true).await; // the old one is reset
    kept.put_blob("users.csv", b"y").await.ok(201);
    let root = files_dir(&server);
    let objects = |id: &str| files_under(&root.join(id)).len();
    assert_eq!(objects(kept.container()), 1);
    let files = &server.state.stores.files;
    for _ in 0..300 {
        let gone = files.container(old.container()).await.unwrap().is_none()
            && files.container(kept.container()).await.unwrap().is_none();
        if gone {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(files.container(old.container()).await.unwrap().is_none(), "the reset container is swept");
    assert!(files.container(kept.container()).await.unwrap().is_none(), "the expired container is swept");
    assert_eq!(objects(old.container()) + objects(kept.container()), 0, "and their objects with them");
    kept.get_blob("users.csv").await.error(403, "AuthenticationFailed");
    let fresh = Session::get(&c, &connector, false).await;
    assert_ne!(fresh.container(), kept.container());
}
