//! Which paths are mount points, from `/proc/self/mountinfo`.
//!
//! A bind mount of a directory on the same filesystem has the same device number as its
//! parent, so comparing `st_dev` cannot tell whether a subPath target is already mounted;
//! the kernel's mount table can.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Every mount point of this mount namespace, in table order (a path mounted over twice
/// appears twice).
pub(crate) fn mount_points() -> io::Result<Vec<PathBuf>> {
    let table = std::fs::read(MOUNTINFO)?;
    Ok(parse(&table))
}

/// True when `path` (canonical) is a mount point.
pub(crate) fn is_mount_point(path: &Path) -> io::Result<bool> {
    Ok(mount_points()?.iter().any(|mount| mount == path))
}

/// Mount points strictly below `dir` (canonical), deepest first, so unmounting them in order
/// never finds a mount still holding another.
pub(crate) fn mounts_below(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut below: Vec<PathBuf> = mount_points()?
        .into_iter()
        .filter(|m| m != dir && m.starts_with(dir))
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    Ok(below)
}

/// The fifth field of each line, with the kernel's octal escapes (`\040` for a space) undone.
fn parse(table: &[u8]) -> Vec<PathBuf> {
    table
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| PathBuf::from(OsString::from_vec(unescape(field))))
        .collect()
}

fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|digits| field[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(d) => {
                let value = (u32::from(d[0] - b'0') << 6)
                    | (u32::from(d[1] - b'0') << 3)
                    | u32::from(d[2] - b'0');
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mount_points_with_escapes() {
        let table = b"22 27 0:21 / /proc rw,relatime - proc proc rw\n\
            90 27 0:50 / /var/lib/closet/pods/u\\0401/volumes rw - tmpfs tmpfs rw\n\
            91 27 8:1 /x /tmp/back\\134slash rw - ext4 /dev/sda1 rw\n";
        assert_eq!(
            parse(table),
            [
                PathBuf::from("/proc"),
                PathBuf::from("/var/lib/closet/pods/u 1/volumes"),
                PathBuf::from("/tmp/back\\slash"),
            ]
        );
    }

    #[test]
    fn the_live_table_has_a_root() {
        assert!(is_mount_point(Path::new("/")).unwrap_or(false));
    }
}
