//! Atomic file output: write to a temporary file beside the target, flush it to disk, then
//! rename it over the target. A reader (or a crash) sees the old file or the new one, never
//! a half-written one.
//!
//! Atomic replacement is for regular files. A symlink is followed, so its target is replaced
//! and the link stays a link; a device node or FIFO (`/dev/null`, `/dev/stdout`, a named
//! pipe) is written in place: renaming a regular file over `/dev/null` would destroy it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Writes through `fill` into a temporary file, then renames it to `path` (to the final
/// target of a symlink). On error the temporary file is removed and `path` is untouched.
/// A special file is written in place instead (see the module documentation).
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> std::io::Result<()> {
    match Existing::at(path) {
        Existing::Directory => {
            Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory, expected a file"))
        }
        Existing::Special => {
            let mut f = OpenOptions::new().write(true).open(path)?;
            fill(&mut f)?;
            f.flush()
        }
        Existing::Nothing | Existing::File => replace(&resolve_links(path), fill),
    }
}

/// What an output path holds now, symlinks followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Nothing (or a dangling symlink).
    Nothing,
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A device node, FIFO or socket: written in place.
    Special,
}

impl Existing {
    /// What `path` holds.
    pub fn at(path: &Path) -> Self {
        match fs::metadata(path) {
            Ok(m) if m.is_file() => Existing::File,
            Ok(m) if m.is_dir() => Existing::Directory,
            Ok(_) => Existing::Special,
            Err(_) => Existing::Nothing,
        }
    }
}

/// The path a chain of symlinks ends at (`path` itself when it is not a link); a dangling
/// link resolves to the file it names, so the write creates it.
pub fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // As the kernel does, give up after 40 links (a loop): the write then fails on `p`.
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(target) if target.is_absolute() => p = target,
            Ok(target) => p = p.parent().map_or(target.clone(), |d| d.join(&target)),
            Err(_) => break,
        }
    }
    p
}

fn replace(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `dir/.name.tmp-PID`: hidden, in the same directory (so the rename stays on one file
/// system), unique per process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        write(&p, b"old contents").unwrap();
        write(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlink_target_is_replaced_and_the_link_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.csv");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("real.csv", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn fifo_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(ok.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    }

    #[test]
    fn failure_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        write(&p, b"precious").unwrap();
        let r = write_with(&p, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"precious");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
