//! Reading one CSV file, bounded, on a thread of its own ([`parse`]): a UTF-8 BOM is skipped, no record may
//! grow past [`Limits::max_record_bytes`] (a hostile or broken file, e.g. an unterminated quote, can't make
//! the reader buffer the rest of the file), and rows go to the validating thread in batches bounded in count
//! and bytes. Records are read with the `csv` crate into reused records: no allocation per field on the hot
//! path.

use std::io::{self, BufRead, BufReader, Read};

/// Bounds on what one file may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 1 << 20 }
    }
}

/// Skips a leading BOM, refuses records longer than the limit, and finds the line each record starts on
/// (the `csv` crate counts records, not lines: CRLF endings and blank lines put its count off). It follows
/// RFC 4180 as `csv` reads it just enough to know where records start and end: a quote opens a quoted field
/// only at a field's start; inside one, `""` is a quote and a newline doesn't end the record; blank lines are
/// no records.
pub(super) struct Guard<R> {
    inner: BufReader<R>,
    started: bool,
    in_quotes: bool,
    /// A quote was just seen inside a quoted field: the next byte decides (another quote, or the end).
    quote_pending: bool,
    /// Between records (blank lines are skipped here).
    at_start: bool,
    last: u8,
    record_bytes: usize,
    max: usize,
    /// 1-based line of the byte being scanned.
    line: u64,
    /// The start lines of records scanned but not yet taken by the validator (at most a buffer's worth).
    starts: Lines,
}

/// Record start lines, shared between the guard (inside the `csv` reader) and the validator.
pub(super) type Lines = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>;

pub(super) const TOO_LONG: &str = "record too long";

impl<R: Read> Guard<R> {
    pub(super) fn new(inner: R, limits: Limits, starts: Lines) -> Guard<R> {
        Guard {
            inner: BufReader::with_capacity(1 << 16, inner),
            started: false,
            in_quotes: false,
            quote_pending: false,
            at_start: true,
            last: b'\n',
            record_bytes: 0,
            max: limits.max_record_bytes,
            line: 1,
            starts,
        }
    }

    fn scan(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut i = 0;
        while i < buf.len() {
            if self.quote_pending {
                self.quote_pending = false;
                if buf[i] == b'"' {
                    // An escaped quote: still inside.
                    self.last = b'"';
                    i += 1;
                    continue;
                }
                self.in_quotes = false;
            }
            if self.at_start {
                match buf[i] {
                    b'\n' => self.line += 1,
                    b'\r' => {}
                    _ => {
                        self.at_start = false;
                        self.record_bytes = 0;
                        self.last = b'\n';
                        self.starts.borrow_mut().push_back(self.line);
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            match memchr::memchr2(b'"', b'\n', &buf[i..]) {
                Some(j) => {
                    let at = i + j;
                    let prev = if j > 0 { buf[at - 1] } else { self.last };
                    self.record_bytes += j + 1;
                    if buf[at] == b'\n' {
                        self.line += 1;
                        if !self.in_quotes {
                            self.at_start = true;
                        }
                    } else if self.in_quotes {
                        self.quote_pending = true;
                    } else if matches!(prev, b',' | b'\n') {
                        self.in_quotes = true;
                    }
                    self.last = buf[at];
                    i = at + 1;
                }
                None => {
                    self.record_bytes += buf.len() - i;
                    self.last = buf[buf.len() - 1];
                    i = buf.len();
                }
            }
            if self.record_bytes > self.max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, TOO_LONG));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.started = true;
            let head = self.inner.fill_buf()?;
            if head.starts_with(b"\xEF\xBB\xBF") {
                self.inner.consume(3);
            }
        }
        let n = self.inner.read(out)?;
        self.scan(&out[..n])?;
        Ok(n)
    }
}

/// A `csv` reader over a guarded file: no header handling (the validator reads the first record itself),
/// rows of any length (the validator counts fields itself).
pub(super) fn reader<R: Read>(r: R, limits: Limits, starts: Lines) -> csv::Reader<Guard<R>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(Guard::new(r, limits, starts))
}

/// What a `csv` error means for the file.
pub(super) fn describe(e: &csv::Error) -> (bool, String) {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.to_string() == TOO_LONG => {
            (true, "a record is longer than the limit (an unterminated quote?)".to_string())
        }
        csv::ErrorKind::Io(io) => (false, format!("the file could not be read: {io}")),
        _ => (true, format!("the file is not valid CSV: {e}")),
    }
}

/// Rows handed from the parsing thread to the validating one, per batch (fewer when they are large: a batch
/// closes at [`BATCH_BYTES`]). With 8 batches in flight, at most ~16 MiB of rows wait whatever the file.
pub(super) const BATCH: usize = 512;
const BATCH_BYTES: usize = 1 << 20;
/// Rows longer than this don't go back to the parsing thread for reuse (their buffers would stay that large).
pub(super) const RECYCLE_MAX: usize = 4096;

/// What the parsing thread found: a row (UTF-8, without NULs), or why the file stops there.
pub(super) enum Item {
    Row { line: u64, byte: u64, rec: csv::StringRecord },
    Nul { line: u64, rec: csv::ByteRecord, offset: usize },
    BadUtf8 { line: u64, rec: csv::ByteRecord, field: usize },
    Failed { line: u64, malformed: bool, message: String },
}

/// The parsing thread: records in batches until the end of the file or the first fatal problem.
pub(super) fn parse(
    input: Box<dyn Read + Send + '_>,
    limits: Limits,
    tx: std::sync::mpsc::SyncSender<Vec<Item>>,
    recycle: std::sync::mpsc::Receiver<Vec<csv::StringRecord>>,
) {
    let starts = Lines::default();
    let mut reader = reader(input, limits, starts.clone());
    let mut last_line = 0;
    let mut next_line = move || {
        last_line = starts.borrow_mut().pop_front().unwrap_or(last_line + 1);
        last_line
    };
    let mut spare: Vec<csv::StringRecord> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut batch_bytes = 0;
    let mut rec = csv::ByteRecord::new();
    loop {
        let item = match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Err(e) => {
                let (malformed, message) = describe(&e);
                Item::Failed { line: next_line(), malformed, message }
            }
            Ok(true) => {
                let line = next_line();
                let byte = rec.position().map_or(0, |p| p.byte());
                batch_bytes += rec.as_slice().len() + 8 * rec.len();
                if let Some(offset) = memchr::memchr(0, rec.as_slice()) {
                    Item::Nul { line, rec: std::mem::take(&mut rec), offset }
                } else {
                    // Checked once here: the fields are `&str` from now on, without another check each.
                    match csv::StringRecord::from_byte_record(std::mem::take(&mut rec)) {
                        Ok(s) => {
                            if spare.is_empty() {
                                spare.extend(recycle.try_iter().flatten());
                            }
                            rec = spare.pop().map(csv::StringRecord::into_byte_record).unwrap_or_default();
                            Item::Row { line, byte, rec: s }
                        }
                        Err(e) => {
                            let field = e.utf8_error().field();
                            Item::BadUtf8 { line, rec: e.into_byte_record(), field }
                        }
                    }
                }
            }
        };
        let last = !matches!(item, Item::Row { .. });
        batch.push(item);
        // A full batch goes; after the last item (or once the validator went away) the thread ends.
        if batch.len() == BATCH || batch_bytes >= BATCH_BYTES || last {
            batch_bytes = 0;
            let sent = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_ok();
            if !sent || last {
                return;
            }
        }
    }
    let _ = tx.send(batch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8], max: usize) -> Result<Vec<(u64, Vec<String>)>, String> {
        let starts = Lines::default();
        let mut r = reader(bytes, Limits { max_record_bytes: max }, starts.clone());
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        loop {
            match r.read_byte_record(&mut rec) {
                Ok(false) => return Ok(out),
                Ok(true) => {
                    let line = starts.borrow_mut().pop_front().unwrap_or(0);
                    out.push((line, rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()))
                }
                Err(e) => return Err(describe(&e).1),
            }
        }
    }

    fn rows(bytes: &[u8], max: usize) -> Result<Vec<Vec<String>>, String> {
        Ok(lines(bytes, max)?.into_iter().map(|(_, r)| r).collect())
    }

    #[test]
    fn records_know_their_lines_whatever_the_line_endings() {
        for input in [&b"h\r\na\r\nb\r\n\r\nc\r\n"[..], b"h\na\nb\n\nc", b"h\ra\rb\r\rc\r"] {
            let got: Vec<(u64, String)> =
                lines(input, 100).unwrap().into_iter().map(|(l, r)| (l, r[0].clone())).collect();
            let cr_only = !input.contains(&b'\n');
            if !cr_only {
                assert_eq!(got, vec![(1, "h".into()), (2, "a".into()), (3, "b".into()), (5, "c".into())], "{input:?}");
            } else {
                assert_eq!(got.len(), 4);
            }
        }
        let quoted = lines(b"h\n\"x\ny\",1\n\"\"\"q\"\"\",2\nlast,3\n", 100).unwrap();
        assert_eq!(quoted.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![1, 2, 4, 5]);
        assert_eq!(quoted[1].1[0], "x\ny");
    }

    #[test]
    fn bom_is_skipped_and_quotes_follow_rfc_4180() {
        let got = rows(b"\xEF\xBB\xBFa,b\r\n\"x,\"\"y\"\"\",2\n", 100).unwrap();
        assert_eq!(got, vec![vec!["a", "b"], vec!["x,\"y\"", "2"]]);
    }

    #[test]
    fn long_records_are_refused_but_long_files_are_not() {
        let long_file = "a,b\n".repeat(10_000);
        assert_eq!(rows(long_file.as_bytes(), 64).unwrap().len(), 10_000);
        let unterminated = format!("a,b\n\"{}", "x\n".repeat(100));
        assert!(rows(unterminated.as_bytes(), 64).unwrap_err().contains("longer than the limit"));
        // A quote inside an unquoted field is literal: it opens nothing.
        let stray = format!("{}\n", "O\"Brien,x\n".repeat(100));
        assert_eq!(rows(stray.as_bytes(), 64).unwrap().len(), 100);
    }
}
