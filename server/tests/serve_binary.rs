//! The `gridsync-server serve` binary as an operator runs it: it creates its
//! data directory, reads a settings file, answers on its port and stops
//! cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};

/// A server process that is killed if the test fails before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the binary and waits for its "ready" line; returns the process,
/// the address it listens on and the rest of its log.
fn start(args: &[&str]) -> (Server, String, BufReader<ChildStderr>) {
    let (server, addr, log, _) = start_logged(args);
    (server, addr, log)
}

/// [`start`], also returning what it logged before it was ready.
fn start_logged(args: &[&str]) -> (Server, String, BufReader<ChildStderr>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("GRIDSYNC_DATA")
        .env_remove("GRIDSYNC_DATABASE")
        .env_remove("GRIDSYNC_LISTEN")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut log = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let child = Server(Some(child));
    let (mut line, mut early) = (String::new(), String::new());
    loop {
        line.clear();
        assert!(log.read_line(&mut line).expect("log readable") > 0, "server exited before ready");
        if line.contains("gridsync-server ready") {
            break;
        }
        early.push_str(&line);
    }
    // Text (`listen=127.0.0.1:4711`) or JSON (`"listen":"127.0.0.1:4711"`).
    let start = line.find("127.0.0.1:").expect("the ready line names the address");
    let port: String = line[start + "127.0.0.1:".len()..].chars().take_while(char::is_ascii_digit).collect();
    (child, format!("127.0.0.1:{port}"), log, early)
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

fn terminate(mut server: Server, mut log: BufReader<ChildStderr>) -> String {
    let mut child = server.0.take().expect("running");
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("the server exits");
    let mut rest = String::new();
    log.read_to_string(&mut rest).expect("log readable");
    assert!(exit.success(), "exit status {exit:?}; log: {rest}");
    rest
}

#[test]
fn serves_on_its_data_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let (child, addr, log) = start(&["--data", data_arg, "serve", "--listen", "127.0.0.1:0"]);
    assert!(data.join("gridsync.db").exists(), "data directory created on first start");

    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""));
    let missing = get(&addr, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404") && missing.contains("\"code\":\"not_found\""));

    // One server per embedded data directory; operator commands still work beside it.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
            .args(args)
            .env_remove("GRIDSYNC_DATABASE")
            .output()
            .expect("the binary runs")
    };
    let second = run(&["--data", data_arg, "serve", "--listen", "127.0.0.1:0"]);
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second server on the same data directory is refused");
    assert!(said.contains("already serving the data directory"), "{said}");
    let listed = run(&["--data", data_arg, "place", "list"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));

    let rest = terminate(child, log);
    assert!(rest.contains("gridsync-server stopped"), "graceful shutdown logged: {rest}");
}

#[test]
fn reads_a_settings_file_and_logs_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("from-file");
    let config = dir.path().join("gridsync.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:0\"\nlog_format = \"json\"\n",
            data.to_str().expect("utf-8")
        ),
    )
    .expect("write settings");
    let (child, addr, log) = start(&["--config", config.to_str().expect("utf-8"), "serve"]);
    assert!(data.join("gridsync.db").exists(), "data directory from the file");
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));
    let rest = terminate(child, log);
    let request_line = rest.lines().find(|l| l.contains("\"request\"")).expect("a request was logged");
    let entry: serde_json::Value = serde_json::from_str(request_line).expect("JSON log line");
    assert_eq!(entry["fields"]["route"], "/health");
    assert_eq!(entry["fields"]["status"], 200);
}

#[test]
fn refuses_a_bad_settings_file_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "listne = \"127.0.0.1:0\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(["--config", config.to_str().expect("utf-8"), "serve"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid settings file") && stderr.contains("line 1, column 1"), "{stderr}");
    assert!(stderr.contains("unknown field") && stderr.contains("`listen`"), "what was expected: {stderr}");
    assert!(!stderr.contains("listne"), "nothing of the file: {stderr}");
}

/// Runs the binary with `args`, killing it if it has not ended within 20
/// seconds (a read of an endless file would never end).
fn run_bounded(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(args)
        .env_remove("GRIDSYNC_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("status").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gridsync-server {args:?} did not return");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn files_it_reads_are_bounded_and_their_content_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    // Something like /etc/shadow: not TOML, and secret.
    let shadow = dir.path().join("shadow");
    std::fs::write(&shadow, "root:$6$Zq1cQh2t$Jm0aX8Kp:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n")
        .expect("write");
    let out = run_bounded(&["--config", shadow.to_str().expect("utf-8"), "serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(shadow.to_str().expect("utf-8")) && stderr.contains("line 1"), "{stderr}");
    for piece in ["root", "Zq1c", "Jm0a", "19700", "daemon"] {
        assert!(!stderr.contains(piece), "the file's content is not shown: {stderr}");
    }

    for args in [
        vec!["--data", data_arg, "place", "import", "/dev/zero"],
        vec!["--data", data_arg, "unit", "import", "/dev/zero"],
        vec!["--config", "/dev/zero", "--data", data_arg, "place", "list"],
        vec!["--data", data_arg, "place", "import", data_arg],
    ] {
        let out = run_bounded(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains("is not a regular file"), "{args:?}: {stderr}");
    }
    let out = run_bounded(&[
        "--data",
        data_arg,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/dev/zero",
        "--tls-key",
        "/dev/zero",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("is not a regular file"), "{stderr}");
}

/// `chattr` on `paths`: `+i` makes a file immutable, even to root and
/// through descriptors already open (`-i` undoes it).
fn chattr(flag: &str, paths: &[&std::path::Path]) {
    let status = Command::new("chattr").arg(flag).args(paths).status().expect(
        "this test needs chattr (e2fsprogs) and a file system and privileges that allow it \
         (root with CAP_LINUX_IMMUTABLE on ext4, xfs or btrfs)",
    );
    assert!(status.success(), "chattr {flag} failed: see the expect message above for what this test needs");
}

/// The database made immutable under a running server (`chattr +i` on the
/// database and its WAL: a write fails as on a read-only or failing disk;
/// `chmod` would not stop root, whom tests run as). What this proves: the
/// write probe reaches the disk through the writer every push uses, and a
/// write failure turns `/health` to 503 with a reason and back once writes
/// go through again. It does not fill a disk.
#[test]
fn health_is_unavailable_while_the_database_cannot_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (child, addr, log) =
        start(&["--data", data.to_str().expect("utf-8"), "serve", "--listen", "127.0.0.1:0"]);
    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains("\"status\":\"ok\""), "{health}");

    let (db, wal) = (data.join("gridsync.db"), data.join("gridsync.db-wal"));
    assert!(wal.exists(), "the server keeps its WAL open");
    // Undone on every way out of the test, so the directory can be removed.
    struct Mutable<'a>(&'a std::path::Path, &'a std::path::Path);
    impl Drop for Mutable<'_> {
        fn drop(&mut self) {
            let _ = Command::new("chattr").arg("-i").args([self.0, self.1]).status();
        }
    }
    chattr("+i", &[&db, &wal]);
    let guard = Mutable(&db, &wal);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let not_ready = loop {
        let health = get(&addr, "/health");
        if health.starts_with("HTTP/1.1 503") {
            break health;
        }
        assert!(std::time::Instant::now() < deadline, "still ready: {health}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(not_ready.contains("\"status\":\"unavailable\""), "{not_ready}");
    assert!(not_ready.contains("\"reason\":\"database_not_writable\""), "{not_ready}");
    assert!(!not_ready.contains(data.to_str().expect("utf-8")), "no path in the answer: {not_ready}");

    chattr("-i", &[&db, &wal]);
    drop(guard);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let health = get(&addr, "/health");
        if health.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not ready again: {health}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    terminate(child, log);
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8");
    let (child, addr, log) = start(&["--data", data_arg, "serve", "--listen", "127.0.0.1:0"]);
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));
    assert_eq!(mode(&data), 0o700);
    for name in ["gridsync.db", "gridsync.db-wal", "gridsync.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    terminate(child, log);

    // A directory of an older version, open to everyone, is tightened on
    // the next start, with a warning.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(data.join("gridsync.db"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let (child, addr, log, early) = start_logged(&["--data", data_arg, "serve", "--listen", "127.0.0.1:0"]);
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));
    assert_eq!((mode(&data), mode(&data.join("gridsync.db"))), (0o700, 0o600));
    let warnings: Vec<&str> = early.lines().filter(|l| l.contains("permissions tightened")).collect();
    assert_eq!(warnings.len(), 2, "the directory and the database: {early}");
    assert!(
        warnings.iter().any(|w| w.contains("mode=755")) && warnings.iter().any(|w| w.contains("mode=644"))
    );
    terminate(child, log);
}
