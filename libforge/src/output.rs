//! Standard output, buffered once for the whole process.
//!
//! Output is written in program order and is complete even when the program then
//! fails or calls `exit()` (spec 06 §6.8): every exit path calls [`flush`]. When stdout
//! is a terminal the buffer is flushed at each newline so interactive programs behave.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::OnceLock;

static OUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn is_tty() -> bool {
    static TTY: OnceLock<bool> = OnceLock::new();
    *TTY.get_or_init(|| std::io::stdout().is_terminal())
}

const LIMIT: usize = 1 << 16;

/// Appends text to standard output.
pub fn write(s: &str) {
    let mut buf = OUT.lock().unwrap_or_else(|e| e.into_inner());
    buf.extend_from_slice(s.as_bytes());
    if buf.len() >= LIMIT || (is_tty() && s.contains('\n')) {
        flush_locked(&mut buf);
    }
}

/// Writes everything buffered so far.
pub fn flush() {
    let mut buf = OUT.lock().unwrap_or_else(|e| e.into_inner());
    flush_locked(&mut buf);
}

fn flush_locked(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A closed pipe (e.g. `forge run x | head`) is not an error of the program.
    let _ = out.write_all(buf);
    let _ = out.flush();
    buf.clear();
}

/// Writes a line to standard error (after flushing stdout, so a terminal shows both
/// streams in program order).
pub fn eprint(s: &str) {
    if is_tty() {
        flush();
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes());
    let _ = err.flush();
}
