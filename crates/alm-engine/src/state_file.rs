//! What a registered engine remembers between starts: the server, its id and its credential,
//! in one file readable by its owner only (mode 0600, written atomically).

use crate::protocol::Secret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "engine.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineState {
    pub server: String,
    pub engine_id: String,
    pub credential: Secret,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

pub fn load(data_dir: &Path) -> Result<Option<EngineState>, String> {
    let file = path(data_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not an engine state file ({e})", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

pub fn save(data_dir: &Path, state: &EngineState) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let file = path(data_dir);
    let temp = data_dir.join(format!(".{FILE_NAME}.tmp"));
    let _ = std::fs::remove_file(&temp);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| format!("{}: {e}", temp.display()))?;
    out.write_all(
        serde_json::to_string_pretty(state)
            .expect("plain struct")
            .as_bytes(),
    )
    .and_then(|_| out.sync_all())
    .map_err(|e| format!("{}: {e}", temp.display()))?;
    std::fs::rename(&temp, &file).map_err(|e| format!("{}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn state_round_trips_and_is_private() {
        let dir = std::env::temp_dir().join(format!("alm-engine-state-{}", uuid::Uuid::new_v4()));
        assert!(load(&dir).unwrap().is_none());
        let state = EngineState {
            server: "https://alm".into(),
            engine_id: "e1".into(),
            credential: Secret::new("alme_x"),
        };
        save(&dir, &state).unwrap();
        let back = load(&dir).unwrap().unwrap();
        assert_eq!(back.credential, state.credential);
        let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
