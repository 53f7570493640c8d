//! Compiles `pause/pause.c` into a static, stripped executable in `OUT_DIR`, with the C
//! compiler the `cc` crate picks for the build target, so a cross build packs a pause binary
//! for the target's architecture.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "pause/pause.c";
    println!("cargo:rerun-if-changed={source}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let output = out_dir.join("pause");

    let compiler = match cc::Build::new().cargo_metadata(false).try_get_compiler() {
        Ok(compiler) => compiler,
        Err(e) => fail(&format!("no C compiler for the build target: {e}")),
    };
    let mut command: Command = compiler.to_command();
    command
        .args(["-static", "-Os", "-s", "-Wall", "-Wextra", "-o"])
        .arg(&output)
        .arg(source);
    match command.output() {
        Ok(result) if result.status.success() => {}
        Ok(result) => fail(&format!(
            "{command:?} failed ({}):\n{}",
            result.status,
            String::from_utf8_lossy(&result.stderr)
        )),
        Err(e) => fail(&format!("running {command:?}: {e}")),
    }
}

fn fail(message: &str) -> ! {
    // A build script reports failure by exiting non-zero; the hint names the Debian packages
    // that provide a static libc.
    eprintln!(
        "error: building the pause binary: {message}\n\
         hint: a static libc is needed: `apt-get install gcc libc6-dev`"
    );
    std::process::exit(1);
}
