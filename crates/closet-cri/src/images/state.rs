//! What [`super::ImportDir`] has imported, kept in `.imported.json` beside the archives so a
//! restarted agent does not import everything again.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The state file's name; the leading dot keeps it out of the scan.
pub(crate) const STATE_FILE: &str = ".imported.json";

const VERSION: u32 = 1;

/// A file's size and modification time: cheap to read, and what changes when it is
/// rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    pub(crate) size: u64,
    pub(crate) mtime_secs: i64,
    pub(crate) mtime_nanos: i64,
}

impl Stamp {
    pub(crate) fn of(metadata: &fs::Metadata) -> Self {
        Self {
            size: metadata.len(),
            mtime_secs: metadata.mtime(),
            mtime_nanos: metadata.mtime_nsec(),
        }
    }
}

/// One imported archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(flatten)]
    pub(crate) stamp: Stamp,
    /// `sha256:<hex>` of the file, so a touched but unchanged file is not imported again.
    pub(crate) sha256: String,
    /// The images the import created.
    pub(crate) images: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ImportState {
    version: u32,
    /// Records by file name.
    pub(crate) files: BTreeMap<String, Record>,
}

impl ImportState {
    /// The state in `dir`, or an empty one when there is none or it does not parse (the cost
    /// is one more import of each archive, which containerd treats as a no-op).
    pub(crate) fn load(dir: &Path) -> Self {
        let path = dir.join(STATE_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Self::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "reading image import state");
                return Self::default();
            }
        };
        match serde_json::from_slice::<Self>(&text) {
            Ok(state) if state.version == VERSION => state,
            Ok(state) => {
                tracing::warn!(path = %path.display(), version = state.version, "unknown image import state version; starting afresh");
                Self::default()
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "image import state does not parse; starting afresh");
                Self::default()
            }
        }
    }

    /// Writes the state atomically: a temporary file renamed over the old one.
    pub(crate) fn save(&mut self, dir: &Path) -> io::Result<PathBuf> {
        self.version = VERSION;
        let path = dir.join(STATE_FILE);
        let temporary = dir.join(format!("{STATE_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        fs::write(&temporary, text)?;
        fs::rename(&temporary, &path)?;
        Ok(path)
    }
}

/// `sha256:<hex>` of the file at `path`, read in blocks.
pub(crate) fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_save_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = ImportState::default();
        state.files.insert(
            "a.tar".into(),
            Record {
                stamp: Stamp {
                    size: 3,
                    mtime_secs: 1_700_000_000,
                    mtime_nanos: 5,
                },
                sha256: "sha256:00".into(),
                images: vec!["closet.local/a:1".into()],
            },
        );
        state.save(dir.path()).expect("save");
        let loaded = ImportState::load(dir.path());
        assert_eq!(loaded.files, state.files);
        assert!(!dir.path().join(".imported.json.tmp").exists());
    }

    #[test]
    fn a_damaged_or_foreign_state_starts_afresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(ImportState::load(dir.path()).files.is_empty());
        fs::write(dir.path().join(STATE_FILE), "{not json").expect("write");
        assert!(ImportState::load(dir.path()).files.is_empty());
        fs::write(dir.path().join(STATE_FILE), r#"{"version":99,"files":{}}"#).expect("write");
        assert!(ImportState::load(dir.path()).files.is_empty());
    }

    #[test]
    fn files_hash_like_sha256sum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, "").expect("write");
        assert_eq!(
            hash_file(&path).expect("hash"),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
