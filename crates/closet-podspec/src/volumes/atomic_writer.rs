//! Writes a set of files into a volume so that readers see either the old set or the new one,
//! never a mix (in the spirit of upstream's `AtomicWriter`).
//!
//! Layout of a target directory:
//!
//! ```text
//! <target>/..2026_01_02_15_04_05.123456789/   the data, one directory per version
//! <target>/..data -> ..2026_01_02_15_04_05.123456789
//! <target>/config.yaml -> ..data/config.yaml  what users see: links through ..data
//! <target>/sub -> ..data/sub
//! ```
//!
//! An update writes a complete new timestamped directory, points a fresh `..data_tmp` link at
//! it and renames that over `..data` (rename is atomic), then adds links for new top-level
//! names, removes links for names that went away, and deletes the old directory. Running
//! processes that opened a file keep the old version; every later open sees the new one. This is
//! how ConfigMap and Secret changes reach running pods; a subPath mount instead pins one
//! version, as upstream.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use crate::SpecError;
use crate::volumes::ownership;

const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";
const MAX_PATH_LEN: usize = 4096;
const MAX_NAME_LEN: usize = 255;

/// One file of a projected volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProjection {
    /// The contents.
    pub data: Vec<u8>,
    /// Permission bits (`defaultMode` or the item's `mode`).
    pub mode: u32,
}

/// Relative path → file; what a configMap, secret, downwardAPI or projected volume holds.
pub type Payload = BTreeMap<String, FileProjection>;

/// Makes `target` hold exactly `payload`, atomically. Returns whether anything changed.
/// `fs_group` makes the files group-owned and group-readable, as `fsGroup` asks.
pub fn write_payload(
    target: &Path,
    payload: &Payload,
    fs_group: Option<u32>,
) -> Result<bool, SpecError> {
    write_with_hook(target, payload, fs_group, |_| {})
}

/// [`write_payload`], calling `before_swap` with the new version's directory just before it
/// becomes visible (tests use it to look at the old version at that moment).
pub(crate) fn write_with_hook(
    target: &Path,
    payload: &Payload,
    fs_group: Option<u32>,
    before_swap: impl FnOnce(&Path),
) -> Result<bool, SpecError> {
    let payload = &normalize(payload, fs_group)?;
    let data_link = target.join(DATA_DIR);
    let old_dir = current_version(&data_link).map_err(io("read link", &data_link))?;
    let old_files = match &old_dir {
        Some(dir) => read_version(&target.join(dir)).map_err(io("read", &target.join(dir)))?,
        None => Payload::new(),
    };
    if old_dir.is_some() && &old_files == payload {
        // Nothing new; make sure the visible links are all there (a crash may have cut an
        // earlier update short after the swap).
        link_visible_names(target, payload)?;
        return Ok(false);
    }

    let new_dir = new_version_dir(target)?;
    let new_path = target.join(&new_dir);
    let written = write_version(&new_path, payload, fs_group);
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&new_path);
        return Err(e);
    }
    before_swap(&new_path);

    let tmp_link = target.join(DATA_DIR_TMP);
    match fs::remove_file(&tmp_link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(SpecError::io("remove", &tmp_link, e));
        }
        _ => {}
    }
    symlink(&new_dir, &tmp_link).map_err(io("create link", &tmp_link))?;
    fs::rename(&tmp_link, &data_link).map_err(io("rename", &tmp_link))?;

    link_visible_names(target, payload)?;
    let new_names = top_level_names(payload);
    for gone in top_level_names(&old_files).difference(&new_names) {
        let visible = target.join(gone);
        if fs::symlink_metadata(&visible).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&visible).map_err(io("remove", &visible))?;
        }
    }
    if let Some(old) = old_dir {
        let old_path = target.join(old);
        fs::remove_dir_all(&old_path).map_err(io("remove", &old_path))?;
    }
    Ok(true)
}

/// Validates every path and rewrites it the way it will read back from disk (`a//./b` is
/// `a/b`), with the modes `fsGroup` will give the files, so an unchanged payload compares equal
/// to what is already written.
fn normalize(payload: &Payload, fs_group: Option<u32>) -> Result<Payload, SpecError> {
    let mut normalized = Payload::new();
    for (path, file) in payload {
        validate_path(path)?;
        let clean: PathBuf = Path::new(path)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let mode = file.mode & 0o7777;
        let mode = if fs_group.is_some() {
            ownership::file_mode(mode, true)
        } else {
            mode
        };
        let file = FileProjection {
            data: file.data.clone(),
            mode,
        };
        normalized.insert(clean.to_string_lossy().into_owned(), file);
    }
    Ok(normalized)
}

/// Upstream's `validatePath`: relative, no `..` component, no leading `..name` (reserved for
/// the writer's own entries), bounded lengths.
fn validate_path(path: &str) -> Result<(), SpecError> {
    let refuse = |reason: &str| SpecError::InvalidField {
        field: "path".into(),
        value: path.into(),
        reason: reason.into(),
    };
    if path.is_empty() {
        return Err(refuse("must not be empty"));
    }
    if path.starts_with('/') {
        return Err(refuse("must be a relative path"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(refuse("must be at most 4096 characters"));
    }
    let items: Vec<&str> = path.split('/').collect();
    if items.contains(&"..") {
        return Err(refuse("must not contain '..'"));
    }
    if items.iter().any(|item| item.len() > MAX_NAME_LEN) {
        return Err(refuse("file names must be at most 255 characters"));
    }
    if items[0].starts_with("..") {
        return Err(refuse("must not start with '..'"));
    }
    if Path::new(path)
        .components()
        .all(|c| matches!(c, Component::CurDir))
    {
        return Err(refuse("must name a file"));
    }
    Ok(())
}

/// The directory `..data` points at, if the link exists.
fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpecError + 'a {
    move |e| SpecError::io(action, path, e)
}

fn current_version(data_link: &Path) -> io::Result<Option<PathBuf>> {
    match fs::read_link(data_link) {
        Ok(dir) => Ok(Some(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// All regular files below a version directory, with contents and permission bits.
fn read_version(dir: &Path) -> io::Result<Payload> {
    let mut files = Payload::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let name = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(name);
            } else if kind.is_file() {
                let full = dir.join(&name);
                let mode = fs::symlink_metadata(&full)?.permissions().mode() & 0o7777;
                let key = name.to_string_lossy().into_owned();
                files.insert(
                    key,
                    FileProjection {
                        data: fs::read(&full)?,
                        mode,
                    },
                );
            }
        }
    }
    Ok(files)
}

/// Creates `..<UTC timestamp>.<nanoseconds>`, unique within `target`.
fn new_version_dir(target: &Path) -> Result<String, SpecError> {
    let now = jiff::Timestamp::now();
    let stamp = now.strftime("%Y_%m_%d_%H_%M_%S").to_string();
    let nanos = now.subsec_nanosecond();
    for attempt in 0..1000 {
        let name = format!("..{stamp}.{:09}", nanos + attempt);
        let path = target.join(&name);
        match fs::create_dir(&path) {
            Ok(()) => {
                set_mode(&path, 0o755)?;
                return Ok(name);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SpecError::io("create directory", path, e)),
        }
    }
    Err(SpecError::io(
        "create directory",
        target,
        io::Error::from(io::ErrorKind::AlreadyExists),
    ))
}

fn write_version(dir: &Path, payload: &Payload, fs_group: Option<u32>) -> Result<(), SpecError> {
    for (relative, file) in payload {
        let full = dir.join(relative);
        if let Some(parent) = full.parent() {
            create_dirs(dir, parent)?;
        }
        fs::write(&full, &file.data).map_err(|e| SpecError::io("write", &full, e))?;
        // Explicitly, so the process umask cannot narrow the mode the pod asked for.
        set_mode(&full, file.mode)?;
    }
    if let Some(gid) = fs_group {
        ownership::apply_fs_group(dir, gid, true)?;
    }
    Ok(())
}

/// `create_dir_all` below `base`, each new directory 0755 regardless of umask.
fn create_dirs(base: &Path, dir: &Path) -> Result<(), SpecError> {
    if dir == base || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(base, parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => set_mode(dir, 0o755),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(SpecError::io("create directory", dir, e)),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SpecError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| SpecError::io("set permissions of", path, e))
}

fn top_level_names(payload: &Payload) -> BTreeSet<String> {
    payload
        .keys()
        .filter_map(|path| {
            Path::new(path).components().find_map(|c| match c {
                Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                _ => None,
            })
        })
        .collect()
}

/// `<target>/<name> -> ..data/<name>` for every top-level name of the payload.
fn link_visible_names(target: &Path, payload: &Payload) -> Result<(), SpecError> {
    for name in top_level_names(payload) {
        let visible = target.join(&name);
        let want = Path::new(DATA_DIR).join(&name);
        match fs::read_link(&visible) {
            Ok(existing) if existing == want => continue,
            Ok(_) => fs::remove_file(&visible).map_err(|e| SpecError::io("remove", &visible, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Something that is not a link sits where a visible name goes: leave it alone
            // rather than delete data the writer does not own.
            Err(e) => return Err(SpecError::io("read link", &visible, e)),
        }
        symlink(&want, &visible).map_err(|e| SpecError::io("create link", &visible, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
