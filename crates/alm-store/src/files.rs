//! Files and directories only their owner may read: alm's data directory (0700) and every
//! file alm writes into it or beside it (the SQLite database and its `-wal`/`-shm`
//! companions, the master key, backups: 0600). Modes are given at creation, whatever the
//! process's umask, so a file is never readable by others even for an instant.

use std::io;
use std::path::{Path, PathBuf};

/// The mode of alm's data directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file alm keeps.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents with mode 0700 (existing ones are left as they are).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Creates an empty file with mode 0600; refuses (`AlreadyExists`) when there is one.
pub fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// Takes group and other access away from an existing file (one written by an older alm, or
/// copied in by hand). A missing file is fine; returns whether the mode changed.
pub fn make_private(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(m) => m.permissions().mode(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if mode & 0o077 == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

/// The database file and the two files SQLite keeps beside it in WAL mode.
pub fn sqlite_files(db_file: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db_file.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db_file.to_owned(), with("-wal"), with("-shm")]
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_created_private_and_old_ones_are_tightened() {
        let root = std::env::temp_dir().join(format!("alm-files-{}", uuid::Uuid::new_v4()));
        let dir = root.join("a/b");
        create_private_dir_all(&dir).unwrap();
        assert_eq!(
            (mode(&root), mode(&root.join("a")), mode(&dir)),
            (0o700, 0o700, 0o700)
        );
        let file = dir.join("f");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            create_private_file(&file).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists,
            "never opens an existing file"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(make_private(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(!make_private(&file).unwrap(), "already private");
        assert!(!make_private(&dir.join("missing")).unwrap());
        assert_eq!(
            sqlite_files(Path::new("/d/alm.db")),
            [
                PathBuf::from("/d/alm.db"),
                PathBuf::from("/d/alm.db-wal"),
                PathBuf::from("/d/alm.db-shm")
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
