//! Reading a file unleak did not write and must not trust to be a file: a FIFO would block, a
//! device or a sparse file of gigabytes would exhaust memory. Only regular files, up to a size.

use std::io::Read;
use std::path::Path;

/// Reads `path` when it is a regular file of at most `max` bytes; anything else (a FIFO, a
/// socket, a device, a folder, a larger file) is an error saying so, without reading it (and
/// without opening a FIFO, which would block until a writer comes).
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let file = std::fs::File::open(path)?;
    // Checked again on what was opened: the path may have been swapped meanwhile.
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            if meta.is_file() {
                format!("{} bytes, more than the {max} byte limit", meta.len())
            } else {
                "not a regular file".to_string()
            },
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // A file that grows while read stops at the limit.
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("more than the {max} byte limit"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        assert!(read_regular(&f, 4).is_err());
        assert!(read_regular(dir.path(), 100).is_err());
        #[cfg(unix)]
        {
            assert!(read_regular(Path::new("/dev/zero"), 100).is_err());
            let fifo = dir.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                // Returns at once: never opened.
                assert!(read_regular(&fifo, 100).is_err());
            }
        }
    }
}
