//! `CtrImporter` against a stand-in `ctr` script that records its arguments and stdin.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;

use super::*;

struct FakeCtr {
    dir: tempfile::TempDir,
}

impl FakeCtr {
    /// A `ctr` that records its arguments and stdin, then runs `body`.
    fn new(body: &str) -> Self {
        Self::script(|record| {
            format!(
                "printf '%s\\n' \"$@\" > {record}/args\n\
                 for last; do :; done\n\
                 if [ \"$last\" = - ]; then cat > {record}/stdin; fi\n\
                 {body}"
            )
        })
    }

    /// A `ctr` running the shell script `body(dir)` returns.
    fn script(body: impl FnOnce(&str) -> String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = format!("#!/bin/sh\n{}\n", body(&dir.path().display().to_string()));
        let ctr = dir.path().join("ctr");
        fs::write(&ctr, script).expect("write ctr");
        fs::set_permissions(&ctr, fs::Permissions::from_mode(0o755)).expect("chmod");
        Self { dir }
    }

    fn importer(&self) -> CtrImporter {
        CtrImporter::with_path("/run/closet/containerd.sock", self.dir.path().as_os_str())
            .expect("ctr on the test PATH")
    }

    fn args(&self) -> Vec<String> {
        let args = fs::read_to_string(self.dir.path().join("args")).expect("args");
        args.lines().map(str::to_owned).collect()
    }

    fn stdin(&self) -> Vec<u8> {
        fs::read(self.dir.path().join("stdin")).expect("stdin")
    }
}

const UNPACKED: &str = "echo 'unpacking closet.local/pause:1 (sha256:0123)...done'; \
                        echo 'unpacking docker.io/library/busybox:e2e (sha256:4567)...done'";

#[tokio::test]
async fn a_plain_tar_is_passed_by_path_into_the_cri_namespace() {
    let ctr = FakeCtr::new(UNPACKED);
    let archive = ctr.dir.path().join("images.tar");
    fs::write(&archive, b"plain tar bytes").expect("write");
    let names = ctr.importer().import_file(&archive).await.expect("import");
    assert_eq!(
        names,
        ["closet.local/pause:1", "docker.io/library/busybox:e2e"]
    );
    let expected = [
        "--address",
        "/run/closet/containerd.sock",
        "--namespace",
        "k8s.io",
        "images",
        "import",
        "--snapshotter",
        "overlayfs",
        &archive.display().to_string(),
    ];
    assert_eq!(ctr.args(), expected);
}

#[tokio::test]
async fn a_gzipped_archive_is_decompressed_into_stdin() {
    let ctr = FakeCtr::new(UNPACKED);
    let content: Vec<u8> = (0..400_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&content).expect("gzip");
    let archive = ctr.dir.path().join("images.tar.gz");
    fs::write(&archive, encoder.finish().expect("gzip")).expect("write");

    ctr.importer().import_file(&archive).await.expect("import");
    assert_eq!(ctr.args().last().map(String::as_str), Some("-"));
    assert!(
        ctr.stdin() == content,
        "stdin differs from the decompressed archive"
    );
}

#[tokio::test]
async fn bytes_in_memory_go_through_stdin() {
    let ctr = FakeCtr::new(UNPACKED);
    let names = ctr
        .importer()
        .import_bytes("the pause image", b"archive".to_vec())
        .await
        .expect("import");
    assert_eq!(names.len(), 2);
    assert_eq!(ctr.stdin(), b"archive");
}

#[tokio::test]
async fn a_failure_names_the_file_and_shows_ctrs_stderr() {
    let ctr = FakeCtr::new("echo 'ctr: unrecognized image format' >&2; exit 1");
    let archive = ctr.dir.path().join("broken.tar");
    fs::write(&archive, b"junk").expect("write");
    let err = ctr
        .importer()
        .import_file(&archive)
        .await
        .expect_err("ctr failed");
    let text = err.to_string();
    assert!(text.contains(&archive.display().to_string()), "{text}");
    assert!(text.contains("exit status: 1"), "{text}");
    assert!(text.ends_with("ctr: unrecognized image format"), "{text}");
}

#[tokio::test]
async fn a_ctr_that_stops_reading_does_not_hang_the_feeder() {
    // Exits before reading stdin: the feeder sees EPIPE instead of blocking on a full pipe.
    let ctr = FakeCtr::script(|_| "echo 'ctr: connection refused' >&2; exit 3".to_owned());
    let big = vec![7u8; 8 << 20];
    let err = ctr
        .importer()
        .import_bytes("big archive", big)
        .await
        .expect_err("ctr failed");
    assert!(matches!(err, ImageImportError::Ctr { .. }), "{err}");
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn an_archive_without_names_is_an_error() {
    let ctr = FakeCtr::new("true");
    let err = ctr
        .importer()
        .import_bytes("anonymous.tar", b"x".to_vec())
        .await
        .expect_err("nothing imported");
    assert!(matches!(err, ImageImportError::NoImages { .. }), "{err}");
}

#[tokio::test]
async fn a_missing_archive_is_named() {
    let ctr = FakeCtr::new(UNPACKED);
    let err = ctr
        .importer()
        .import_file(Path::new("/nonexistent/x.tar"))
        .await
        .expect_err("missing");
    assert_eq!(err.to_string(), "opening image archive /nonexistent/x.tar");
}

#[test]
fn a_missing_ctr_names_the_containerd_package() {
    let err = CtrImporter::with_path("/sock", OsStr::new("")).expect_err("no ctr");
    assert_eq!(
        err.to_string(),
        "`ctr` not found on PATH; install it with `apt-get install containerd`"
    );
}

#[test]
fn names_are_read_from_the_unpack_lines() {
    let out = "unpacking a.io/x:1 (sha256:aa)...done\nsomething else\n\
               unpacking docker.io/library/b:2 (sha256:bb)...done\n";
    assert_eq!(imported_names(out), ["a.io/x:1", "docker.io/library/b:2"]);
    assert!(imported_names("").is_empty());
}
