//! The rules every path a command writes follows, in one place:
//!
//! * **No clobber without `--force`.** An existing regular file (or a symlink to one) is
//!   replaced only with `--force`; a directory never is.
//! * **Never over an input.** An output that is the same file as one of the command's inputs
//!   (data, model, safetensors) is refused, `--force` or not.
//! * **Special files are written in place.** A device node or FIFO (`/dev/null`,
//!   `/dev/stdout`, a named pipe) is opened and written, never replaced by a regular file;
//!   nothing is clobbered there, so no `--force` is needed. A symlink is followed: its target
//!   is replaced atomically and the link stays (see [`crate::atomic`]).
//! * **Checked before the work.** The parent directory must exist and every file name that
//!   will be written (with its temporary twin) must fit the file system's 255 bytes, so a
//!   long training run cannot fail at its end on a path.
//! * **One writer.** `fit` holds an exclusive lock ([`RunLock`]) on `OUT.lock` for the whole
//!   run, so a second `fit` to the same `--out` is refused instead of sharing its checkpoint.
//!
//! Reading is bounded too ([`read_bounded`]): `/dev/zero` given as a model or data file is
//! refused at the limit instead of growing memory until the machine runs out.

use crate::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Longest file name (bytes) the common file systems take (ext4, XFS, APFS, NTFS).
pub const MAX_FILE_NAME: usize = 255;
/// Bytes the temporary twin of an atomic write adds to a file name (`.`, `.tmp-`, a PID).
const TEMP_NAME_EXTRA: usize = 1 + 5 + 10;
/// Largest model file read (far beyond any microcontroller's flash).
pub const MAX_MODEL_FILE: u64 = 256 << 20;

pub use crate::atomic::Existing;

/// Checks an output path against the rules of the module documentation, before any work:
/// `force` allows replacing an existing regular file, `inputs` are the files the command
/// reads.
pub fn check(path: &Path, force: bool, inputs: &[&Path]) -> Result<(), Error> {
    let existing = Existing::at(path);
    if existing == Existing::Directory {
        return Err(refused(path, "is a directory, expected a file path"));
    }
    if existing == Existing::Special {
        return Ok(());
    }
    check_name(path)?;
    let parent = parent_dir(path);
    match fs::metadata(&parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(refused(path, &format!("{} is not a directory", parent.display()))),
        Err(_) => return Err(refused(path, &format!("directory {} does not exist", parent.display()))),
    }
    if existing == Existing::File {
        if let Some(input) = inputs.iter().find(|i| same_file(path, i)) {
            let alias = if input == &path { String::new() } else { format!(" ({})", input.display()) };
            return Err(refused(
                path,
                &format!("is also an input{alias}: writing it would destroy the input"),
            ));
        }
        if !force {
            return Err(Error::Output(format!("{} exists; pass --force to overwrite it", path.display())));
        }
    }
    Ok(())
}

/// Refuses a file name (with the temporary twin an atomic write makes) longer than
/// [`MAX_FILE_NAME`] bytes.
pub fn check_name(path: &Path) -> Result<(), Error> {
    let len = path.file_name().map_or(0, |n| n.len());
    if len + TEMP_NAME_EXTRA > MAX_FILE_NAME {
        return Err(refused(
            path,
            &format!(
                "file name of {len} bytes is too long: at most {} bytes (file systems take {MAX_FILE_NAME}, \
                 with room for the temporary file)",
                MAX_FILE_NAME - TEMP_NAME_EXTRA
            ),
        ));
    }
    Ok(())
}

/// True when both paths exist and are the same file (device and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn refused(path: &Path, why: &str) -> Error {
    Error::Output(format!("{}: {why}", path.display()))
}

/// Reads a whole file, refusing one larger than `limit` bytes (and a device that never
/// ends) with an error that names the limit.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(refused(path, &format!("is a directory, expected {what}")));
    }
    let mut bytes = Vec::new();
    f.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::Input(format!(
            "{}: more than {} MiB, the largest {what} read",
            path.display(),
            limit >> 20
        )));
    }
    Ok(bytes)
}

/// An exclusive lock on `OUT.lock`, held while a command writes `OUT` and the files beside
/// it; the lock file is removed when the guard drops. The lock is the operating system's
/// (`flock`), so a killed run leaves no stale lock, only a file the next run takes over.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Takes the lock for the output `out`, or says which run holds it.
    pub fn take(out: &Path) -> Result<Self, Error> {
        let path = with_suffix(out, ".lock");
        check_name(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Output(format!(
                "{}: another run is writing it (its lock {} is held); wait for it or choose another --out",
                out.display(),
                path.display()
            ))),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// `path` with `suffix` appended to its file name (`m.vaem` -> `m.vaem.ckpt`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `text` to standard output and flushes it. A closed pipe (`| head -1`) or a full
/// device comes back as [`Error::Stdout`] instead of a panic; `main` exits quietly on the
/// first and prints one error line for the second.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(Error::Stdout)
}

/// [`print()`] with a newline.
pub fn println(text: &str) -> Result<(), Error> {
    print(&format!("{text}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clobber_rule() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        check(&p, false, &[]).unwrap();
        fs::write(&p, "x").unwrap();
        let e = check(&p, false, &[]).unwrap_err().to_string();
        assert!(e.contains("exists; pass --force"), "{e}");
        check(&p, true, &[]).unwrap();
        let e = check(&p, true, &[&p]).unwrap_err().to_string();
        assert!(e.contains("writing it would destroy the input"), "{e}");
        let e = check(dir.path(), true, &[]).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = check(&dir.path().join("no/such/dir/x"), false, &[]).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let long = dir.path().join("n".repeat(250));
        assert!(check(&long, false, &[]).unwrap_err().to_string().contains("too long"));
    }

    #[test]
    fn input_through_a_symlink_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.csv");
        fs::write(&p, "x").unwrap();
        let link = dir.path().join("alias.csv");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(same_file(&p, &link));
        assert!(check(&link, true, &[&p]).is_err());
    }

    #[test]
    fn lock_is_exclusive_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.vaem");
        let a = RunLock::take(&out).unwrap();
        let e = RunLock::take(&out).unwrap_err().to_string();
        assert!(e.contains("another run is writing it"), "{e}");
        drop(a);
        assert!(!with_suffix(&out, ".lock").exists());
        let _b = RunLock::take(&out).unwrap();
    }

    #[test]
    fn bounded_read_refuses_an_endless_device() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20, "model file").unwrap_err().to_string();
        assert!(e.contains("more than 1 MiB, the largest model file read"), "{e}");
    }
}
