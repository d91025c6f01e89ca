//! Key files the server creates for itself (the dev signing key, the secrets key).

use std::path::Path;

/// Create `path` readable by its owner only, atomically (written aside, then linked into place);
/// `false` when it already existed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    use std::io::Write;
    let aside = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&aside)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.into()),
    }
}
