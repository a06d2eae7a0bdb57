//! The scripts in `scripts/`: they find the binary wherever cargo builds it (`CARGO_TARGET_DIR`,
//! a configured target-dir, or ./target), and a build shows cargo's progress rather than minutes of
//! silence. (`CARGO_TARGET_DIR=/tmp/x scripts/demo.sh </dev/null` itself needs a release build, so
//! it is checked by hand on a fresh clone; here a stand-in `cargo` proves the plumbing.)

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn script(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("scripts").join(name)).unwrap()
}

#[test]
fn build_release_prints_the_binary_cargo_built_and_lets_its_progress_through() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("cargo");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in\n  build) echo \"   Compiling redsh (stand-in) $*\" >&2 ;;\n  \
         metadata) printf '{\"packages\":[],\"target_directory\":\"%s\",\"version\":1}\\n' \"$FAKE_TARGET\" ;;\n  \
         *) exit 3 ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(Path::new(ROOT).join("scripts/build-release.sh"))
        .env("PATH", path)
        .env("FAKE_TARGET", "/tmp/elsewhere")
        .env("CARGO_TARGET_DIR", "/tmp/elsewhere")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/tmp/elsewhere/release/redsh\n");
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains("Compiling redsh (stand-in) build --release"), "{progress}");
    assert!(!progress.contains("--quiet"), "{progress}");
}

#[test]
fn every_script_runs_the_binary_cargo_built_and_builds_audibly() {
    for name in ["demo.sh", "expiry-demo.sh", "bench.sh"] {
        let text = script(name);
        assert!(text.contains("REDSH=$(scripts/build-release.sh)"), "{name} builds on its own");
        assert!(!text.contains("target/release"), "{name} assumes ./target");
    }
    for name in ["demo.sh", "expiry-demo.sh", "bench.sh", "test.sh", "build-release.sh"] {
        let text = script(name);
        for line in text.lines().filter(|l| l.trim_start().starts_with("cargo build")) {
            assert!(!line.contains("--quiet") && !line.contains(" -q"), "{name}: a silent build: {line}");
        }
    }
}
