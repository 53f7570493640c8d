//! What `/proc` says about the processes and mounts of one run: the server's own memory
//! (its child containerd and the pods excluded), the shims and pod processes of the run's
//! containerd, and whatever is left behind after cleanup. Everything is found by PID or by
//! the run's own directory, never by a process name alone, so other users' containers on
//! the machine are neither counted nor touched.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::server::Memory;
use anyhow::Context;

/// One process: its parent and command line (NUL-separated arguments joined by spaces).
#[derive(Clone, Debug)]
pub struct Proc {
    /// Its process id.
    pub pid: u32,
    /// Its parent's process id.
    pub ppid: u32,
    /// Its arguments, joined by spaces.
    pub cmdline: String,
}

/// Every process visible now. Processes that exit while being read are skipped.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(ppid) = parent_of(&stat) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| join_cmdline(&raw))
            .unwrap_or_default();
        out.push(Proc { pid, ppid, cmdline });
    }
    out
}

/// The parent PID from `/proc/PID/stat`. The command name in parentheses may itself hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn join_cmdline(raw: &[u8]) -> String {
    raw.split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `VmRSS` and `VmHWM` of `pid`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    Ok(Memory {
        rss: status_kib(&status, "VmRSS:").with_context(|| format!("{path} has no VmRSS"))?,
        hwm: status_kib(&status, "VmHWM:").with_context(|| format!("{path} has no VmHWM"))?,
    })
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix(field))?;
    Some(
        value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?
            * 1024,
    )
}

/// `VmRSS` of `pid` in bytes, 0 if it is gone.
pub fn rss(pid: u32) -> u64 {
    memory(pid).map_or(0, |m| m.rss)
}

/// `root` and its descendants, leaving out the subtrees rooted at `excluded`.
pub fn tree(procs: &[Proc], root: u32, excluded: &[u32]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    // Bounded by the number of processes: every PID is visited at most once.
    let mut seen = BTreeSet::new();
    while let Some(pid) = stack.pop() {
        if excluded.contains(&pid) || !seen.insert(pid) {
            continue;
        }
        out.push(pid);
        stack.extend(children.get(&pid).into_iter().flatten());
    }
    out
}

/// The containerd shims serving the containerd whose socket is `socket` (they outlive their
/// containerd and are re-parented away from it, so they are found by `-address`).
pub fn shims(procs: &[Proc], socket: &Path) -> Vec<u32> {
    let address = format!("-address {}", socket.display());
    procs
        .iter()
        .filter(|p| p.cmdline.contains("containerd-shim") && p.cmdline.contains(&address))
        .map(|p| p.pid)
        .collect()
}

/// Processes whose command line names `dir` (a containerd, a shim, a server of this run).
pub fn naming(procs: &[Proc], dir: &Path) -> Vec<Proc> {
    let dir = dir.display().to_string();
    procs
        .iter()
        .filter(|p| p.pid != std::process::id() && p.cmdline.contains(&dir))
        .cloned()
        .collect()
}

/// Mount points at or below `dir`, from `/proc/self/mountinfo`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mount_points(&info)
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// The mount point (fifth field) of every line, with the kernel's octal escapes for space,
/// tab, newline and backslash undone.
fn mount_points(info: &str) -> impl Iterator<Item = String> + '_ {
    info.lines().filter_map(|l| l.split(' ').nth(4)).map(|m| {
        m.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    })
}

/// The network namespaces in `/run/netns` (where containerd's CRI plugin pins pods' ones).
pub fn netns_entries() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` still runs `cmdline` (a PID may have been reused since it was recorded).
pub fn still_running(pid: u32, cmdline: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| join_cmdline(&raw) == cmdline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_the_command_name() {
        let stat = "4242 (tokio-rt (w) x) S 17 4242 4242 0 -1 4194560 0";
        assert_eq!(parent_of(stat), Some(17));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn status_fields_are_bytes() {
        let status = "Name:\tcloset\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10 * 1024 * 1024));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20 * 1024 * 1024));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn the_tree_leaves_out_excluded_subtrees() {
        let p = |pid, ppid| Proc {
            pid,
            ppid,
            cmdline: String::new(),
        };
        // 10 is the server; 11 its containerd with a child 12; 13 another child; 20 elsewhere.
        let procs = [p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1)];
        let mut found = tree(&procs, 10, &[11]);
        found.sort_unstable();
        assert_eq!(found, vec![10, 13]);
    }

    #[test]
    fn shims_are_matched_by_their_containerd_address() {
        let procs = [
            Proc {
                pid: 5,
                ppid: 1,
                cmdline: "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id ab \
                          -address /tmp/run/agent/containerd/containerd.sock"
                    .to_owned(),
            },
            Proc {
                pid: 6,
                ppid: 1,
                cmdline: "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id cd \
                          -address /tmp/other/containerd.sock"
                    .to_owned(),
            },
        ];
        let socket = Path::new("/tmp/run/agent/containerd/containerd.sock");
        assert_eq!(shims(&procs, socket), vec![5]);
    }

    #[test]
    fn mount_points_are_unescaped() {
        let info = "36 35 98:0 / /mnt/a\\040b rw - ext4 /dev/vda rw\n\
                    37 35 0:5 / /tmp/run/rootfs rw - overlay overlay rw\n";
        let points: Vec<String> = mount_points(info).collect();
        assert_eq!(points, vec!["/mnt/a b", "/tmp/run/rootfs"]);
    }
}
