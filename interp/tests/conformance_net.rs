//! The network conformance corpus (`tests/conformance-net`, run by its own `check-net`)
//! and the server examples (`examples/server`, same format), against `forge run` (the
//! tier it picks, and the VM and the JIT forced) and against executables built by
//! `forgec`. Real servers on loopback, real HTTP and WebSocket clients, the local
//! PostgreSQL and MariaDB when they run (`check-net` skips those cases with a message
//! when their port is closed).
//!
//! The cases listen on fixed ports, so the runs are serialised.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static PORTS: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn forge() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge"))
}

fn forgec() -> PathBuf {
    let p = forge().with_file_name("forgec");
    assert!(p.is_file(), "{} is missing: build it with `cargo build -p forge-compiler --bin forgec`", p.display());
    p
}

/// Runs `check-net` with `args` on the cases under `cases`; fails the test unless
/// every case passes (or is skipped for a database that is not running).
fn check_net(cases: &Path, args: &[String]) {
    let _guard = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let script = root().join("tests/conformance-net/check-net");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--root")
        .arg(cases)
        .args(args)
        .output()
        .expect("python3 runs check-net");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "check-net {args:?} on {}: {last}", cases.display());
    assert!(last.contains(" passed, 0 failed"), "unexpected summary: {last}");
}

fn corpus() -> PathBuf {
    root().join("tests/conformance-net")
}

fn examples() -> PathBuf {
    root().join("examples/server")
}

fn run_with(flags: &str) -> Vec<String> {
    vec!["--run".into(), format!("{} run{flags}", forge().display())]
}

fn compiled() -> Vec<String> {
    vec!["--compile".into(), format!("{} {{src}} -o {{bin}}", forgec().display())]
}

#[test]
fn net_corpus_under_forge_run() {
    check_net(&corpus(), &run_with(""));
}

#[test]
fn net_corpus_on_the_vm() {
    check_net(&corpus(), &run_with(" --vm"));
}

#[test]
fn net_corpus_under_the_jit() {
    check_net(&corpus(), &run_with(" --jit"));
}

#[test]
fn net_corpus_compiled_by_forgec() {
    check_net(&corpus(), &compiled());
}

#[test]
fn server_examples_under_forge_run() {
    check_net(&examples(), &run_with(""));
}

#[test]
fn server_examples_compiled_by_forgec() {
    check_net(&examples(), &compiled());
}

/// `scripts/abuse-http` against a compiled server: idle connections, a slow-header
/// client, a 100 MB body, 10 000 malformed requests and a handler that never returns.
#[test]
fn abuse_of_a_compiled_server() {
    let _guard = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("python3")
        .arg(root().join("scripts/abuse-http"))
        .arg("--compile")
        .arg(format!("{} {{src}} -o {{bin}}", forgec().display()))
        .output()
        .expect("python3 runs scripts/abuse-http");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scripts/abuse-http failed");
}
