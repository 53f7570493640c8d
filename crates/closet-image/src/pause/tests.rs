use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use super::*;
use crate::spec::{MEDIA_TYPE_MANIFEST, Platform};

/// ELF program header type of the dynamic loader's path.
const PT_INTERP: u32 = 3;

/// The program header types of an ELF file, or why it is not one.
fn program_header_types(elf: &[u8]) -> Result<Vec<u32>, String> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("no ELF magic".into());
    }
    let is64 = match elf.get(4) {
        Some(1) => false,
        Some(2) => true,
        other => return Err(format!("bad ELF class {other:?}")),
    };
    let little = match elf.get(5) {
        Some(1) => true,
        Some(2) => false,
        other => return Err(format!("bad ELF data encoding {other:?}")),
    };
    let read = |at: usize, len: usize| -> Result<u64, String> {
        let bytes = elf.get(at..at + len).ok_or("ELF truncated")?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Ok(if little {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        })
    };
    let (phoff, phentsize, phnum) = if is64 {
        (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?)
    } else {
        (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?)
    };
    let mut types = Vec::new();
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).map_err(|e| e.to_string())?;
        types.push(u32::try_from(read(at, 4)?).map_err(|e| e.to_string())?);
    }
    Ok(types)
}

/// The pause executable as the archive holds it, checked to be at `/pause` with mode 0755.
fn binary_from_archive() -> Vec<u8> {
    let layout = OciLayout::from_archive(&archive()).expect("read the pause archive");
    let [entry] = layout.index().manifests.as_slice() else {
        panic!("one image expected")
    };
    assert_eq!(entry.image_name(), Some(IMAGE));
    assert_eq!(entry.media_type, MEDIA_TYPE_MANIFEST);
    assert_eq!(entry.platform, Some(Platform::host()));
    let manifest = layout.manifest(entry).expect("manifest");
    let config = layout.config(&manifest.config).expect("config");
    assert_eq!(config.config.entrypoint, [PATH]);
    let [layer] = manifest.layers.as_slice() else {
        panic!("one layer expected")
    };
    let blob = layout.blob(&layer.digest).expect("layer blob");
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(blob.data.as_slice()));
    for entry in tar.entries().expect("layer entries") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").as_os_str() == "pause" {
            assert_eq!(entry.header().mode().expect("mode"), 0o755);
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
            return data;
        }
    }
    panic!("no pause in the layer")
}

fn install(dir: &Path, binary: &[u8]) -> PathBuf {
    let path = dir.join("pause");
    fs::write(&path, binary).expect("write pause");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Waits until `pid` has a handler for SIGTERM (bit 15 of `SigCgt`), so a test's signal
/// cannot arrive before pause is ready for it.
fn wait_for_handlers(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (15 - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "pid {pid} never caught SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send_sigterm(pid: u32) {
    let pid = Pid::from_raw(i32::try_from(pid).expect("pid")).expect("non-zero pid");
    kill_process(pid, Signal::TERM).expect("kill");
}

/// The direct children of `pid`, from procfs.
fn children_of(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn the_archive_holds_a_static_executable() {
    let binary = binary_from_archive();
    assert_eq!(binary, BINARY);
    let types = program_header_types(&binary).expect("ELF");
    assert!(!types.is_empty());
    assert!(!types.contains(&PT_INTERP), "pause is dynamically linked");
    // Stripped and small: a static glibc binary of this size holds no surprises.
    assert!(binary.len() < 2 * 1024 * 1024, "{} bytes", binary.len());
}

#[test]
fn the_elf_check_sees_a_dynamic_loader() {
    // The test binary itself is dynamically linked, so the check above can fail.
    let me = fs::read(std::env::current_exe().expect("current exe")).expect("read self");
    let types = program_header_types(&me).expect("ELF");
    assert!(types.contains(&PT_INTERP));
    assert!(program_header_types(b"#!/bin/sh\n").is_err());
}

#[test]
fn pause_prints_its_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(install(dir.path(), &binary_from_archive()))
        .arg("-v")
        .output()
        .expect("run pause -v");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "closet-pause 1\n");
}

#[test]
fn pause_waits_until_sigterm_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(install(dir.path(), &binary_from_archive()))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pause");
    let pid = child.id();
    wait_for_handlers(pid);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "pause exited on its own"
    );
    send_sigterm(pid);
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not running as PID 1"), "{stderr}");
}

/// As PID 1 of its own PID namespace, pause must reap orphans reparented to it. Needs root
/// (for the namespace) and util-linux's `unshare` and `nsenter`; skips with a reason otherwise.
#[test]
fn pause_reaps_orphans_as_pid_1() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping pause_reaps_orphans_as_pid_1: needs root for a PID namespace");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pause = install(dir.path(), &binary_from_archive());
    let Ok(unshare) = Command::new("unshare")
        .args(["--pid", "--fork", "--"])
        .arg(&pause)
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("skipping pause_reaps_orphans_as_pid_1: no `unshare` (util-linux)");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let pause_pid = loop {
        if let Some(&pid) = children_of(unshare.id()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "unshare never started pause");
        std::thread::sleep(Duration::from_millis(10));
    };
    wait_for_handlers(pause_pid);

    // The shell exits at once, orphaning `sleep`, which the kernel hands to the namespace's
    // PID 1. When `sleep` exits, only pause can reap it.
    let status = Command::new("nsenter")
        .arg(format!("--target={pause_pid}"))
        .args(["--pid", "--", "/bin/sh", "-c", "sleep 1 & exit 0"])
        .status()
        .expect("nsenter");
    assert!(status.success());
    assert_eq!(
        children_of(pause_pid).len(),
        1,
        "sleep was not reparented to pause"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !children_of(pause_pid).is_empty() {
        let left = children_of(pause_pid);
        assert!(Instant::now() < deadline, "pause left a zombie: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }

    send_sigterm(pause_pid);
    let output = unshare.wait_with_output().expect("wait unshare");
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("not running as PID 1"), "{stderr}");
}
