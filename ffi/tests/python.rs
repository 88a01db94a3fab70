//! The FFI driven from a foreign language, end to end: a real township
//! server on a loopback port, the Python bindings generated from the built
//! library by the workspace's own `uniffi-bindgen`, and a Python program
//! (`tests/python/scenario.py`) that plays two handsets through the
//! bindings: enrollment, offline edits, a conflict and its resolution,
//! progress and cancellation, a daily report, a rule refusal, and a
//! revocation with wipe.
//!
//! Needs `python3` on the PATH (the standard library only). Its absence
//! fails the test with a message saying so: it is never skipped.
//!
//! Where the library is: building this test builds the package's library
//! target with every crate type it declares, so `cargo test` writes the
//! cdylib as `deps/libgridsync_ffi.so` in the profile's directory, next to
//! this test's own executable (the copy uplifted to `target/debug/` is
//! refreshed only by `cargo build`, so it may be stale and is only a
//! fallback). The generator is this package's `uniffi-bindgen` binary,
//! which cargo builds for integration tests (`CARGO_BIN_EXE_uniffi-bindgen`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use common::{DAY_MS, GRID, TOWNSHIP};
use gridsync_proto::Role;
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};

const ADMIN_PASSWORD: &str = "correct horse battery staple 网格";
/// The Python program may take this long before it is stopped.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(150);

/// Lines the scenario prints as it passes each stage.
const CHECKPOINTS: &[&str] = &[
    "CHECK bindings loaded",
    "CHECK enrolled worker li as worker at 530102001-01",
    "CHECK enrolled township admin wang as township_admin at 530102",
    "CHECK a used code is refused: GridError.Auth(enrollment_used)",
    "CHECK an unreachable server is GridError.Network",
    "CHECK set_server: the next request goes to the new address",
    "CHECK field work recorded",
    "CHECK first sync: phases pushing, pulling, finished",
    "CHECK the township holds the dispute and the daily report",
    "CHECK conflict on summary between li and wang",
    "CHECK resolved: no conflicts, identical records",
    "CHECK daily report has items",
    "CHECK a photo attached offline uploads on Wi-Fi, with progress in bytes",
    "CHECK the township fetches the photo on demand and opens it as a file",
    "CHECK rule refusal: GridError.Validation(forbidden, step)",
    "CHECK bad input: GridError.Validation(invalid_request)",
    "CHECK cancel_sync: GridError.Cancelled, push kept",
    "CHECK is_cancelled: GridError.Cancelled",
    "CHECK a panicking listener is InternalError, the store goes on",
    "CHECK concurrent writes from 4 threads",
    "CHECK revoked without wipe: GridError.Revoked, store kept",
    "CHECK revoked with wipe: GridError.Wiped, store files and attachments gone",
    "CHECK no error text holds personal data",
    "SCENARIO OK",
];

#[test]
fn python_drives_two_handsets_through_the_ffi() -> anyhow::Result<()> {
    let started = Instant::now();
    let python = python3();
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;

    let bindings = work.path().join("bindings");
    generate_python_bindings(&bindings)?;

    let data = work.path().join("server");
    let op = Operator::open_default(&data)?;
    setup_township(&op)?;
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse()?);
    settings.workers = 2;
    let server = Running::start(settings)?;
    let url = server.url();
    let code = |user: &str| -> anyhow::Result<String> { Ok(op.issue_code(user, DAY_MS, &url)?.code) };

    let handsets = work.path().join("handsets");
    fs::create_dir_all(&handsets)?;
    let stdout_path = work.path().join("scenario.stdout");
    let stderr_path = work.path().join("scenario.stderr");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/scenario.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .env("PYTHONPATH", &bindings)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        // The scenario provokes one panic on purpose: one line, no backtrace.
        .env("RUST_BACKTRACE", "0")
        .env("GRIDSYNC_URL", &url)
        .env("GRIDSYNC_TMP", &handsets)
        .env("GRIDSYNC_GRID", GRID)
        .env("GRIDSYNC_TOWNSHIP", TOWNSHIP)
        .env("GRIDSYNC_CODE_WORKER", code("li")?)
        .env("GRIDSYNC_CODE_WORKER_SPARE", code("li")?)
        .env("GRIDSYNC_CODE_TOWNSHIP", code("wang")?)
        .env("GRIDSYNC_ADMIN_USER", "admin")
        .env("GRIDSYNC_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path)?)
        .stderr(fs::File::create(&stderr_path)?)
        .spawn()
        .with_context(|| format!("cannot run {python}"))?;

    let deadline = Instant::now() + SCENARIO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = fs::read_to_string(&stdout_path)?;
    let stderr = fs::read_to_string(&stderr_path)?;
    println!("---- scenario.py stdout ----\n{stdout}---- scenario.py stderr ----\n{stderr}----");
    match status {
        None => bail!("scenario.py did not finish within {SCENARIO_TIMEOUT:?}"),
        Some(status) if !status.success() => bail!("scenario.py failed ({status})"),
        Some(_) => {}
    }
    let missing: Vec<&&str> = CHECKPOINTS.iter().filter(|c| !stdout.lines().any(|l| l == **c)).collect();
    assert!(missing.is_empty(), "checkpoints missing from the scenario's output: {missing:?}");
    server.stop();
    println!("python scenario passed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `python3`, or a failure that says it is needed.
fn python3() -> String {
    let python = std::env::var("GRIDSYNC_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    match Command::new(&python).arg("--version").output() {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "`{python} --version` failed ({}): this test drives the FFI from Python and needs python3 \
             (3.8 or later, standard library only) on the PATH, or GRIDSYNC_PYTHON set to one",
            out.status
        ),
        Err(e) => panic!(
            "cannot run `{python}` ({e}): this test drives the FFI from Python and needs python3 \
             (3.8 or later, standard library only) on the PATH, or GRIDSYNC_PYTHON set to one; \
             it is not skipped"
        ),
    }
}

/// The cdylib this test build produced (see the module docs).
fn built_library() -> anyhow::Result<PathBuf> {
    let name = format!("{}gridsync_ffi{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let exe = std::env::current_exe()?;
    let deps = exe.parent().context("the test executable has a directory")?;
    let candidates = [deps.join(&name), deps.parent().map(|p| p.join(&name)).unwrap_or_default()];
    let newest = candidates
        .iter()
        .filter_map(|p| Some((fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone());
    let Some(library) = newest else {
        bail!("the cdylib {name} is neither in {} nor beside it", deps.display());
    };
    let age = SystemTime::now().duration_since(fs::metadata(&library)?.modified()?).unwrap_or_default();
    println!("library: {} (built {:.0} s ago)", library.display(), age.as_secs_f64());
    Ok(library)
}

/// Generates the Python module from the library and puts the library
/// beside it, where the module loads it from.
fn generate_python_bindings(out: &Path) -> anyhow::Result<()> {
    let library = built_library()?;
    let bindgen = env!("CARGO_BIN_EXE_uniffi-bindgen");
    let output = Command::new(bindgen)
        .args(["generate", "--library"])
        .arg(&library)
        .args(["--language", "python", "--out-dir"])
        .arg(out)
        .output()
        .with_context(|| format!("cannot run {bindgen}"))?;
    if !output.status.success() {
        bail!(
            "uniffi-bindgen failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    anyhow::ensure!(out.join("gridsync_ffi.py").exists(), "uniffi-bindgen wrote no gridsync_ffi.py");
    let beside = out.join(library.file_name().context("the library has a file name")?);
    if fs::hard_link(&library, &beside).is_err() {
        fs::copy(&library, &beside)?;
    }
    Ok(())
}

/// A township → village → grid, a worker in the grid, the township's
/// admin, and an administrator with a password for the admin API.
fn setup_township(op: &Operator) -> anyhow::Result<()> {
    common::township_with_a_worker(op)?;
    op.add_user("wang", Role::TownshipAdmin, Some(TOWNSHIP), None, None)?;
    op.create_admin("admin", Some(ADMIN_PASSWORD.to_owned()))?;
    Ok(())
}
