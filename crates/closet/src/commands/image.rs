//! `closet image import` and `closet image ls`: images in the containerd that `closet server`
//! or `closet agent` runs under `<data-dir>/agent`, for machines without a registry.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use closet_cli::{ImageArgs, ImageCommand, ImageImportArgs, ImageListArgs};
use closet_cri::images::CtrImporter;
use closet_cri::{ContainerdConfig, CriClient, RuntimeExt, cri};

/// Runs one `closet image` subcommand.
pub(crate) fn run(args: ImageArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match args.command {
            ImageCommand::Import(args) => import(&args).await,
            ImageCommand::Ls(args) => list(&args).await,
        }
    })
}

async fn import(args: &ImageImportArgs) -> anyhow::Result<()> {
    let socket = socket(&args.data_dir);
    // Connecting first turns "ctr failed" into the clearer "containerd is not running".
    connect(&socket).await?;
    let importer = CtrImporter::new(&socket)?;
    let mut stdout = std::io::stdout().lock();
    for file in &args.files {
        let names = importer
            .import_file(file)
            .await
            .with_context(|| format!("importing {}", file.display()))?;
        for name in names {
            writeln!(stdout, "imported {name}").context("writing to stdout")?;
        }
    }
    Ok(())
}

async fn list(args: &ImageListArgs) -> anyhow::Result<()> {
    let socket = socket(&args.data_dir);
    let client = connect(&socket).await?;
    let images = client.all_images().await?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(table(&images).as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

/// The CRI socket of closet's containerd for `data_dir`.
fn socket(data_dir: &Path) -> PathBuf {
    ContainerdConfig::new(data_dir.join("agent")).socket_path()
}

async fn connect(socket: &Path) -> anyhow::Result<CriClient> {
    if !socket.exists() {
        anyhow::bail!(
            "closet's containerd is not running at {}: start `closet server` (or `closet agent`) first",
            socket.display()
        );
    }
    CriClient::connect(socket).await.with_context(|| {
        format!(
            "closet's containerd is not running at {}: start `closet server` (or `closet agent`) first",
            socket.display()
        )
    })
}

/// The images as `crictl images` shows them: one row per tag (an untagged image gets one row
/// with `<none>`), sorted by name and tag.
fn table(images: &[cri::Image]) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    for image in images {
        let id = short_id(&image.id);
        let size = human_size(image.size);
        let mut names: Vec<(String, String)> = image
            .repo_tags
            .iter()
            .map(|tag| split_reference(tag, ':'))
            .collect();
        if names.is_empty() {
            let repo = image
                .repo_digests
                .first()
                .map(|digest| split_reference(digest, '@').0)
                .unwrap_or_else(|| "<none>".to_owned());
            names.push((repo, "<none>".to_owned()));
        }
        for (repo, tag) in names {
            rows.push([repo, tag, id.clone(), size.clone()]);
        }
    }
    rows.sort();
    let header = ["IMAGE", "TAG", "IMAGE ID", "SIZE"].map(str::to_owned);
    let all: Vec<&[String; 4]> = std::iter::once(&header).chain(rows.iter()).collect();
    let widths: Vec<usize> = (0..4)
        .map(|col| all.iter().map(|row| row[col].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in all {
        let mut line = String::new();
        for (col, cell) in row.iter().enumerate() {
            if col + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[col]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `docker.io/library/busybox:1.36` → (`docker.io/library/busybox`, `1.36`); the separator
/// must come after the last `/`, so a registry port is not taken for a tag.
fn split_reference(reference: &str, separator: char) -> (String, String) {
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[name_start..].rfind(separator) {
        Some(i) => (
            reference[..name_start + i].to_owned(),
            reference[name_start + i + 1..].to_owned(),
        ),
        None => (reference.to_owned(), "<none>".to_owned()),
    }
}

/// The first 13 hex digits of the image ID, as crictl prints it.
fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(13).collect()
}

/// A size in decimal units with four significant digits, as crictl (Go's `units.HumanSize`)
/// prints it: `742B`, `1.234MB`, `12.5GB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let integer_digits = if value < 10.0 {
        1
    } else if value < 100.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.prec$}", prec = 4 - integer_digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], digests: &[&str], size: u64) -> cri::Image {
        cri::Image {
            id: id.to_owned(),
            repo_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            repo_digests: digests.iter().map(|d| (*d).to_owned()).collect(),
            size,
            ..Default::default()
        }
    }

    #[test]
    fn sizes_read_like_crictl() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(742), "742B");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(12_500_000_000), "12.5GB");
        assert_eq!(human_size(999_999), "1000kB");
    }

    #[test]
    fn references_split_at_the_last_separator_after_the_last_slash() {
        assert_eq!(
            split_reference("localhost:5000/busybox:1.36", ':'),
            ("localhost:5000/busybox".to_owned(), "1.36".to_owned())
        );
        assert_eq!(
            split_reference("localhost:5000/busybox", ':'),
            ("localhost:5000/busybox".to_owned(), "<none>".to_owned())
        );
        assert_eq!(
            split_reference("docker.io/library/pause@sha256:abc", '@'),
            (
                "docker.io/library/pause".to_owned(),
                "sha256:abc".to_owned()
            )
        );
    }

    #[test]
    fn table_has_a_row_per_tag_and_names_untagged_images() {
        let images = [
            image(
                "sha256:0123456789abcdef0123",
                &[
                    "docker.io/library/busybox:1.36",
                    "docker.io/library/busybox:latest",
                ],
                &[],
                4_261_000,
            ),
            image(
                "sha256:fedcba9876543210fedc",
                &[],
                &["registry.lan:5000/app@sha256:ffff"],
                742,
            ),
        ];
        let text = table(&images);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let columns = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(columns(lines[0]), ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]);
        assert_eq!(
            columns(lines[1]),
            [
                "docker.io/library/busybox",
                "1.36",
                "0123456789abc",
                "4.261MB"
            ]
        );
        assert_eq!(columns(lines[2])[1], "latest");
        assert_eq!(
            columns(lines[3]),
            ["registry.lan:5000/app", "<none>", "fedcba9876543", "742B"]
        );
        // Columns line up: every row's TAG starts where the header's does.
        let tag_at = lines[0].find("TAG").expect("header");
        assert_eq!(lines[1].find("1.36"), Some(tag_at));
    }

    #[tokio::test]
    async fn a_missing_containerd_says_to_start_closet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = connect(&socket(dir.path()))
            .await
            .expect_err("nothing runs");
        let text = format!("{err:#}");
        assert!(
            text.contains("closet's containerd is not running at"),
            "{text}"
        );
        assert!(text.contains("agent/"), "{text}");
        assert!(text.contains("start `closet server`"), "{text}");
    }
}
