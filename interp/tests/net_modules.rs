//! The network client modules end to end: Forge programs run by `forge run` against
//! real peers on loopback — the HTTP + WebSocket helper server of the network
//! conformance harness (`tests/conformance-net/check-net`, run with python3), the
//! local PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB/MySQL (127.0.0.1:3306,
//! root without a password). A test whose peer is missing says so and passes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The upstream helper, stopped when dropped.
struct Upstream {
    child: Child,
    port: u16,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts the harness's upstream helper (python3) and reads the port it listens on.
fn upstream() -> Option<Upstream> {
    let script = root().join("tests/conformance-net/check-net");
    let code = format!(
        "import importlib.machinery, importlib.util, sys, time\n\
         loader = importlib.machinery.SourceFileLoader('checknet', {script:?})\n\
         spec = importlib.util.spec_from_loader('checknet', loader)\n\
         m = importlib.util.module_from_spec(spec)\n\
         loader.exec_module(m)\n\
         server = m.start_upstream()\n\
         print(server.server_address[1], flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(code)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipping: python3 is needed for the upstream helper ({e})");
            return None;
        }
    };
    let mut line = String::new();
    let stdout = child.stdout.take()?;
    let _ = BufReader::new(stdout).read_line(&mut line);
    match line.trim().parse() {
        Ok(port) => Some(Upstream { child, port }),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("skipping: the upstream helper did not start");
            None
        }
    }
}

fn port_open(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// Runs `source` with `forge run` in a fresh directory; returns (stdout, stderr, status).
fn run(name: &str, source: &str, envs: &[(&str, String)]) -> (String, String, Option<i32>) {
    let dir = std::env::temp_dir().join(format!("forge-net-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.fg"), source).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge"));
    cmd.arg("run").arg("main.fg").current_dir(&dir).env("NO_COLOR", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

const HTTP_PROGRAM: &str = r#"
let up = env.get("UP")
let r = http.get(up + "/echo", {params: {q: "a b", n: 1}, auth: "tok", "timeout": 5})
say r.status
say r.ok
say r.method
say r.url == up + "/echo?q=a%20b&n=1"
say r.json.query
say r.json.headers["authorization"]
say r.headers["x-upstream"]
say keys(r)
let p = http.post(up + "/echo", {body: {text: "say \"hi\"", n: [1, 2.5]}})
say p.json.json
say p.json.content_types
say http.get(up + "/status/404").ok
say http.get(up + "/redirect").json.hello
say http.head(up + "/hello").body == ""
grab g from up + "/hello"
say g.json
say keys(g)
let f = fetch(up + "/echo", {method: "put", body: "x"})
say f.json.method
say f.json.body
try {
    http.get("http://127.0.0.1:1/")
} catch e {
    say e.message
}
try {
    fetch(42)
} catch e {
    say e.message
}
let c = ws.connect(replace(up, "http://", "ws://") + "/ws")
say starts_with(c.id, "ws_")
say ws.send(c.id, "hello")
say ws.receive(c.id, 5000)
say ws.receive(c.id, 200)
say ws.close(c.id)
say ws.close(c.id)
download up + "/hello" to "h.json"
say json.parse(fs.read("h.json")).n
crawl up + "/text"
say http.crawl(up + "/text").text
say typeof(fetch)
say keys(http)
"#;

#[test]
fn http_fetch_grab_and_ws() {
    let Some(up) = upstream() else { return };
    let url = format!("http://127.0.0.1:{}", up.port);
    let (stdout, stderr, status) = run("http", HTTP_PROGRAM, &[("UP", url)]);
    assert_eq!(status, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let expected = [
        "200",
        "true",
        "GET",
        "true",
        "q=a%20b&n=1",
        "Bearer tok",
        "yes",
        "[status, ok, url, body, headers, json, time, method]",
        r#"{ "text": "say "hi"", "n": [1, 2.5] }"#,
        "[application/json]",
        "false",
        "world",
        "true",
        r#"{ "hello": "world", "n": 42, "list": [1, 2, 3] }"#,
        "[status, ok, url, body, headers, json]",
        "PUT",
        "\"x\"",
        "http.get error: request failed: error sending request for url (http://127.0.0.1:1/)",
        "fetch() requires a URL string",
        "true",
        "true",
        r#"{ "type": "text", "data": "upstream echo: hello", "raw": "upstream echo: hello" }"#,
        r#"{ "type": "timeout" }"#,
        "true",
        "false",
        "42",
        "plain text from upstream",
        "BuiltIn",
        "[get, post, put, delete, patch, head, download, crawl, pretty, respond, text, html, redirect]",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "stderr:\n{stderr}");
    assert!(stderr.contains("  Downloading http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("/hello...\n  Saved to h.json ("), "{stderr}");
}

const PG_PROGRAM: &str = r#"
pg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
pg.execute("DROP TABLE IF EXISTS forge_e2e_pg")
say pg.execute("CREATE TABLE forge_e2e_pg (id SERIAL PRIMARY KEY, name TEXT, n INT, day DATE, doc JSONB, price NUMERIC(8,2))")
say pg.execute("INSERT INTO forge_e2e_pg (name, n, day, doc, price) VALUES ($1, $2, $3, $4, $5)", ["a", 5, "2024-01-02", {k: [1, 2]}, 9.99])
say pg.query("SELECT * FROM forge_e2e_pg WHERE n = $1", [5])
say pg.query("SELECT 1 AS one, count(*) FROM forge_e2e_pg")
try {
    pg.query("SELECT * FROM forge_e2e_nope")
} catch e {
    say e.message
}
pg.execute("DROP TABLE forge_e2e_pg")
pg.close()
try {
    pg.query("SELECT 1")
} catch e {
    say e.message
}
"#;

#[test]
fn pg_program() {
    if !port_open(5432) {
        eprintln!("skipping: no PostgreSQL server at 127.0.0.1:5432");
        return;
    }
    let (stdout, stderr, status) = run("pg", PG_PROGRAM, &[]);
    assert_eq!(status, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let expected = [
        "0",
        "1",
        r#"[{ "id": 1, "name": "a", "n": 5, "day": "2024-01-02", "doc": { "k": [1, 2] }, "price": 9.99 }]"#,
        r#"[{ "one": 1, "count": 1 }]"#,
        "pg.query error: db error: relation \"forge_e2e_nope\" does not exist",
        "no pg connection open",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "stderr:\n{stderr}");
}

const MYSQL_PROGRAM: &str = r#"
let admin = mysql.connect("mysql://root@127.0.0.1:3306/mysql")
mysql.execute(admin, "CREATE DATABASE IF NOT EXISTS forge_test_mysql")
say mysql.close(admin)
let c = mysql.connect("127.0.0.1", "root", "", "forge_test_mysql", 3306)
say starts_with(c, "mysql_")
mysql.execute(c, "DROP TABLE IF EXISTS forge_e2e")
mysql.execute(c, "CREATE TABLE forge_e2e (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), price DECIMAL(6,2), at DATETIME, dur TIME)")
say mysql.execute(c, "INSERT INTO forge_e2e (name, price, at, dur) VALUES (?, ?, ?, ?)", ["Zoë", 19.99, "2024-01-02 03:04:05", "27:30:00"])
say mysql.query(c, "SELECT * FROM forge_e2e")
say mysql.query(c, "SELECT * FROM forge_e2e WHERE id = ?", [1])
try {
    mysql.query(c, "SELECT * FROM forge_e2e_nope")
} catch e {
    say e.message
}
try {
    mysql.query("mysql_0", "SELECT 1")
} catch e {
    say e.message
}
mysql.execute(c, "DROP TABLE forge_e2e")
say mysql.close(c)
"#;

#[test]
fn mysql_program() {
    if !port_open(3306) {
        eprintln!("skipping: no MySQL/MariaDB server at 127.0.0.1:3306");
        return;
    }
    let (stdout, stderr, status) = run("mysql", MYSQL_PROGRAM, &[]);
    assert_eq!(status, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let row = r#"[{ "id": 1, "name": "Zoë", "price": 19.99, "at": "2024-01-02 03:04:05", "dur": "27:30:00" }]"#;
    let expected = [
        "true",
        "true",
        "1",
        row,
        row,
        "mysql.query() error: Server error: `ERROR 1146 (42S02): Table 'forge_test_mysql.forge_e2e_nope' doesn't exist'",
        "MySQL connection 'mysql_0' not found",
        "true",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "stderr:\n{stderr}");
}

#[test]
fn no_connection_before_the_program_asks() {
    // A program that never names a network module runs without any network activity;
    // one that fails argument checks opens nothing either.
    let (stdout, stderr, status) =
        run("lazy", "try {\n    http.get(1)\n} catch e {\n    say e.message\n}\nsay typeof(pg)\n", &[]);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(stdout, "http.get() requires a URL string\nObject\n");
}
