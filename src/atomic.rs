//! The one way unleak writes a file it did not just create itself: into a new temporary file in
//! the same folder (a fresh name, created exclusively, never through a link), fsynced, then
//! renamed over the target, so a reader or a crash sees the old file or the whole new one. Used
//! by `--fix`, `--output-file`, the baseline and the language server's rule docs; the cache,
//! whose entries carry checksums, skips the fsyncs ([`write_checked`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a file the user named (`--output-file`, `--write-baseline`) atomically; a target
/// that exists and is not a regular file (a device such as `/dev/stdout`, a FIFO, or a link to
/// one) is written in place instead: renaming over it would replace the device node or the
/// link with a regular file.
pub fn write_named(path: &Path, bytes: &[u8], tag: &str) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        return f.write_all(bytes).and_then(|()| f.flush());
    }
    write(path, bytes, tag)
}

/// Writes `bytes` to `path` atomically, replacing whatever is there (unleak's own files: the
/// cache, the language server's rule docs).
pub fn write(path: &Path, bytes: &[u8], tag: &str) -> std::io::Result<()> {
    publish(path, bytes, tag, |tmp, _| std::fs::rename(tmp, path))
        .map_err(|e| std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display())))
}

/// [`write`] without the fsyncs, for files every reader checks and treats as missing when
/// damaged (the cache: each entry carries a checksum of its payload). A reader still sees the
/// old file or the whole new one; after a crash the new one may be empty or torn, which its
/// checksum shows, and the next run rewrites it. (Two fsyncs per entry were most of a cold
/// cached run: 2.7 s against 1.05 s without the cache.)
pub fn write_checked(path: &Path, bytes: &[u8], tag: &str) -> std::io::Result<()> {
    let dir = folder_of(path);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let (tmp, mut file) = create_temp(dir, &name, tag)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| std::fs::rename(&tmp, path));
    drop(file);
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display())))
}

/// Writes `bytes` to a new temporary file beside `path` (`.NAME.unleak-TAG-PID-N.tmp`, see
/// [`create_temp`]), fsyncs it, and hands it to `publish` (which renames or links it into
/// place, after setting its mode or owner); then fsyncs the folder. The temporary file is
/// removed whatever happens, so at worst a crash leaves one behind (discovery ignores `.tmp`).
pub fn publish(
    path: &Path,
    bytes: &[u8],
    tag: &str,
    publish: impl FnOnce(&Path, &File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = folder_of(path);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let (tmp, mut file) = create_temp(dir, &name, tag)?;
    let result = (|| -> std::io::Result<()> {
        file.write_all(bytes)?;
        file.sync_all()?;
        publish(&tmp, &file)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    drop(file);
    // After a rename it is gone already; after a link or a failure it must go.
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The folder a file is in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates `.NAME.unleak-TAG-PID-N.tmp` in `dir`, where N is unpredictable, with `create_new`:
/// O_CREAT|O_EXCL fails on any existing name, a symlink included (POSIX: it is not followed),
/// so a link planted in a checkout can never redirect the write.
pub fn create_temp(dir: &Path, name: &str, tag: &str) -> std::io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut last = None;
    for attempt in 0..64u64 {
        let n = unpredictable(attempt);
        let tmp = dir.join(format!(".{name}.unleak-{tag}-{pid}-{n}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

/// Removes the temporary files (`.NAME.unleak-TAG-PID-N.tmp`) that processes now dead left in
/// `dir` (a `SIGKILL` between create and rename); returns how many. Only where a process's
/// liveness can be told (`/proc`); files of live processes — another unleak running — stay.
pub fn remove_stale(dir: &Path, tag: &str) -> usize {
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let marker = format!(".unleak-{tag}-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(tail) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once(&marker).map(|(_, t)| t))
        else {
            continue;
        };
        let Some(pid) = tail.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if regular
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// A number an attacker planting names cannot guess in advance: the clock's nanoseconds, the
/// attempt and the address of a stack value, hashed.
fn unpredictable(attempt: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let here = &attempt as *const u64 as usize;
    xxhash_rust::xxh3::xxh3_64(
        &[
            nanos.to_le_bytes().as_slice(),
            &attempt.to_le_bytes(),
            &here.to_le_bytes(),
            &std::process::id().to_le_bytes(),
        ]
        .concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out.json");
        std::fs::write(&f, "old").unwrap();
        write(&f, b"new", "test").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temporary_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // PID 0 is never a process; our own PID is alive.
        let dead = d.join(".a.ts.unleak-fix-0-17.tmp");
        let live = d.join(format!(".a.ts.unleak-fix-{}-3.tmp", std::process::id()));
        let other = d.join(".a.ts.unleak-cache-0-1.tmp");
        for p in [&dead, &live, &other] {
            std::fs::write(p, "x").unwrap();
        }
        if Path::new("/proc/self").exists() {
            assert_eq!(remove_stale(d, "fix"), 1);
            assert!(!dead.exists() && live.exists() && other.exists());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_never_followed_and_names_are_not_predictable() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = create_temp(dir.path(), "x", "t").unwrap();
        let (b, _) = create_temp(dir.path(), "x", "t").unwrap();
        assert_ne!(a, b);
        // A link at a temporary name makes that name unusable, never a way out.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("report.txt");
        write(&target, b"report", "t").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "report");
    }
}
