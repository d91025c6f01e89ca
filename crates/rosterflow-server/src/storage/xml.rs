//! The storage emulation's XML: the Put Block List body it reads (bounded: size, depth, element count; no
//! entities) and the List Blobs answer it writes (`EnumerationResults`, as Azure and Azurite write it).

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;
use rosterflow_store::files::{Blob, BlockRef, MAX_COMMITTED_BLOCKS};

use super::errors::{Code, StorageError, StorageResult};
use super::wire;

/// Largest Put Block List body read: 50,000 `<Latest>` entries of 64-byte ids fit in 6 MiB.
pub const MAX_BLOCK_LIST_BYTES: usize = 8 * 1024 * 1024;

/// A Put Block List body → the blocks it names, in order.
pub fn block_list(body: &[u8]) -> StorageResult<Vec<BlockRef>> {
    let invalid = |why: String| {
        StorageError::with(Code::InvalidXmlDocument, format!("XML specified is not syntactically valid: {why}."))
    };
    if body.len() > MAX_BLOCK_LIST_BYTES {
        return Err(StorageError::with(
            Code::RequestBodyTooLarge,
            format!("The block list is larger than {MAX_BLOCK_LIST_BYTES} bytes."),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid("it is not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut blocks = Vec::new();
    // 0: before the root; 1: inside <BlockList>; 2: inside an entry (its kind); 3: after the root.
    let mut depth = 0;
    let mut entry: Option<(&'static str, String)> = None;
    loop {
        let event = reader.read_event().map_err(|e| invalid(e.to_string()))?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(invalid("a document type declaration is not allowed".into())),
            Event::Start(e) => {
                let name = e.name();
                match (depth, name.as_ref()) {
                    (0, b"BlockList") => depth = 1,
                    (1, b"Committed" | b"Uncommitted" | b"Latest") => {
                        let kind = match name.as_ref() {
                            b"Committed" => "Committed",
                            b"Uncommitted" => "Uncommitted",
                            _ => "Latest",
                        };
                        entry = Some((kind, String::new()));
                        depth = 2;
                    }
                    (d, n) => {
                        return Err(invalid(format!(
                            "unexpected element <{}> at depth {d}",
                            String::from_utf8_lossy(n).chars().take(40).collect::<String>()
                        )))
                    }
                }
            }
            Event::Empty(e) if depth == 0 && e.name().as_ref() == b"BlockList" => depth = 3,
            Event::Empty(e) => {
                return Err(invalid(format!(
                    "unexpected empty element <{}>",
                    String::from_utf8_lossy(e.name().as_ref())
                )));
            }
            Event::Text(t) => match (&mut entry, depth) {
                (Some((_, id)), 2) => id.push_str(&t.decode().map_err(|e| invalid(e.to_string()))?),
                _ => return Err(invalid("text outside a block entry".into())),
            },
            Event::CData(_) | Event::GeneralRef(_) => {
                return Err(invalid("CDATA and entity references are not allowed".into()))
            }
            Event::End(_) => match depth {
                2 => {
                    let (kind, id) = entry.take().expect("inside an entry");
                    if blocks.len() == MAX_COMMITTED_BLOCKS {
                        return Err(StorageError::with(
                            Code::InvalidBlockList,
                            format!("The block list names more than {MAX_COMMITTED_BLOCKS} blocks."),
                        ));
                    }
                    let id = wire::block_id(&id)?;
                    blocks.push(match kind {
                        "Committed" => BlockRef::Committed(id),
                        "Uncommitted" => BlockRef::Uncommitted(id),
                        _ => BlockRef::Latest(id),
                    });
                    depth = 1;
                }
                1 => depth = 3,
                _ => return Err(invalid("unbalanced end tag".into())),
            },
            Event::Eof => break,
        }
    }
    if depth != 3 {
        return Err(invalid("no complete <BlockList> element".into()));
    }
    Ok(blocks)
}

/// RFC 1123 with `GMT`, as `Last-Modified` and the XML listings carry times.
pub fn http_date(micros: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Get Block List's `BlockList` document; `None` leaves a list out (`blocklisttype` did not ask for it).
pub fn block_list_answer(committed: Option<&[(String, u64)]>, uncommitted: Option<&[(String, u64)]>) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (tag, blocks) in [("CommittedBlocks", committed), ("UncommittedBlocks", uncommitted)] {
        let Some(blocks) = blocks else { continue };
        x.push_str(&format!("<{tag}>"));
        for (id, size) in blocks {
            x.push_str(&format!("<Block><Name>{}</Name><Size>{size}</Size></Block>", escape(id.as_str())));
        }
        x.push_str(&format!("</{tag}>"));
    }
    x.push_str("</BlockList>");
    x
}

/// One page of a List Blobs answer.
pub struct Listing<'a> {
    pub service: &'a str,
    pub container: &'a str,
    pub prefix: &'a str,
    pub marker: &'a str,
    pub max_results: Option<u64>,
    pub delimiter: Option<&'a str>,
    pub blobs: &'a [Blob],
    pub prefixes: &'a [String],
    pub next_marker: Option<&'a str>,
}

/// The `EnumerationResults` document.
pub fn list_blobs(l: &Listing) -> String {
    let mut x = String::with_capacity(512 + l.blobs.len() * 700);
    let el = |x: &mut String, name: &str, value: &str| {
        if value.is_empty() {
            x.push_str(&format!("<{name} />"));
        } else {
            x.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
    };
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    x.push_str(&format!(
        "<EnumerationResults ServiceEndpoint=\"{}\" ContainerName=\"{}\">",
        escape(l.service),
        escape(l.container)
    ));
    el(&mut x, "Prefix", l.prefix);
    el(&mut x, "Marker", l.marker);
    if let Some(m) = l.max_results {
        el(&mut x, "MaxResults", &m.to_string());
    }
    if let Some(d) = l.delimiter {
        el(&mut x, "Delimiter", d);
    }
    x.push_str("<Blobs>");
    for b in l.blobs {
        x.push_str("<Blob>");
        el(&mut x, "Name", &b.name);
        x.push_str("<Properties>");
        el(&mut x, "Creation-Time", &http_date(b.created));
        el(&mut x, "Last-Modified", &http_date(b.modified));
        el(&mut x, "Etag", &b.etag);
        el(&mut x, "Content-Length", &b.size.to_string());
        el(&mut x, "Content-Type", b.content_type.as_deref().unwrap_or("application/octet-stream"));
        el(&mut x, "Content-Encoding", "");
        el(&mut x, "Content-Language", "");
        el(&mut x, "Content-MD5", b.content_md5.as_deref().unwrap_or(""));
        el(&mut x, "Cache-Control", "");
        el(&mut x, "Content-Disposition", "");
        el(&mut x, "BlobType", "BlockBlob");
        el(&mut x, "AccessTier", "Hot");
        el(&mut x, "AccessTierInferred", "true");
        el(&mut x, "LeaseStatus", "unlocked");
        el(&mut x, "LeaseState", "available");
        el(&mut x, "ServerEncrypted", "true");
        x.push_str("</Properties><OrMetadata /></Blob>");
    }
    for p in l.prefixes {
        x.push_str("<BlobPrefix>");
        el(&mut x, "Name", p);
        x.push_str("</BlobPrefix>");
    }
    x.push_str("</Blobs>");
    el(&mut x, "NextMarker", l.next_marker.unwrap_or(""));
    x.push_str("</EnumerationResults>");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn block_lists_parse_as_the_sdks_write_them() {
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<BlockList><Latest>QUFB</Latest><Committed>QkJC</Committed><Uncommitted>Q0ND</Uncommitted></BlockList>"#;
        assert_eq!(
            block_list(body).unwrap(),
            vec![
                BlockRef::Latest("QUFB".into()),
                BlockRef::Committed("QkJC".into()),
                BlockRef::Uncommitted("Q0ND".into())
            ]
        );
        assert_eq!(block_list(b"<BlockList/>").unwrap(), vec![]);
        assert_eq!(block_list(b"<BlockList></BlockList>").unwrap(), vec![]);
        for bad in [
            &b""[..],
            b"<BlockList>",
            b"<BlockList><Latest>QUFB</Latest>",
            b"<BlockList><Latest><X/></Latest></BlockList>",
            b"<BlockList><Other>QUFB</Other></BlockList>",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><BlockList><Latest>&a;</Latest></BlockList>",
            b"<BlockList><Latest>not base64</Latest></BlockList>",
            b"<BlockList></BlockList><BlockList></BlockList>",
            b"\xff\xfe",
        ] {
            assert!(block_list(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_block_lists_never_panic(body in "(<BlockList>|</BlockList>|<Latest>|</Latest>|<Committed>|QUFB|<!--|-->|&amp;|<a>|[ -~]){0,40}") {
            let _ = block_list(body.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = block_list(&body);
        }
    }
}
