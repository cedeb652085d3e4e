//! The `db` module (spec 11 §11.15): an embedded SQLite database through `rusqlite`
//! (SQLite compiled from its bundled sources).
//!
//! A program has one connection, shared by top-level code, functions, `spawn` tasks
//! and HTTP handlers. Those may run on other threads (each isolate has its own), so the
//! connection lives in a process-wide mutex rather than in a Forge value; nothing is
//! opened before the first `db.open`. Parameters are always bound to `?`
//! placeholders, never spliced into the SQL text. Every SQLite failure (bad SQL, a
//! constraint, a file that is not a database) becomes a Forge error carrying SQLite's
//! message.

use std::sync::{Mutex, MutexGuard};

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::Connection;

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Error, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.module("db", "open", open);
    r.module("db", "execute", execute);
    r.module("db", "query", query);
    r.module("db", "close", close);
    r.module("db", "last_insert_rowid", last_insert_rowid);
}

/// Argument `i` when it is a String.
fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

/// The program's connection, if one is open.
static CONNECTION: Mutex<Option<Connection>> = Mutex::new(None);

const NO_CONNECTION: &str = "no database connection open (call db.open() first)";

/// The connection slot. A panic while it was held cannot leave the connection in a
/// state SQLite does not handle itself, so a poisoned lock is simply taken over.
fn slot() -> MutexGuard<'static, Option<Connection>> {
    CONNECTION.lock().unwrap_or_else(|e| e.into_inner())
}

/// The SQL value bound for a Forge value: Int, Float, String, Bool (1/0) and `null`
/// map to their SQLite types; anything else is bound as its display text.
fn to_sql(v: &Value) -> Sql {
    match v.kind() {
        Kind::Int => Sql::Integer(v.as_int().unwrap_or(0)),
        Kind::Float => Sql::Real(v.as_float().unwrap_or(0.0)),
        Kind::Str => Sql::Text(v.as_str().unwrap_or("").to_string()),
        Kind::Bool => Sql::Integer(i64::from(v.as_bool() == Some(true))),
        Kind::Null => Sql::Null,
        _ => Sql::Text(display(v)),
    }
}

/// The Forge value of a result column. BLOBs are described, not returned.
fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::NULL,
        ValueRef::Integer(n) => Value::int(n),
        ValueRef::Real(x) => Value::float(x),
        ValueRef::Text(t) => Value::string(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::string(format!("<blob {} bytes>", b.len())),
    }
}

fn open(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(path) = str_arg(args, 0) else {
        return fail("db.open() requires a path string (use ':memory:' for in-memory)");
    };
    let conn = if path == ":memory:" { Connection::open_in_memory() } else { Connection::open(path) };
    let conn = conn.map_err(|e| Error::new(format!("db.open error: {e}")))?;
    // The previous connection, if any, is closed when it is replaced.
    *slot() = Some(conn);
    Ok(Value::TRUE)
}

/// `db.execute(sql, params?)`: a batch of statements, or exactly one statement with
/// its parameters bound when `params` is an Array.
fn execute(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(sql) = str_arg(args, 0) else {
        return fail("db.execute() requires a SQL string");
    };
    let guard = slot();
    let Some(conn) = guard.as_ref() else {
        return fail(NO_CONNECTION);
    };
    let done = match args.get(1).and_then(Value::as_array) {
        Some(params) => {
            let params: Vec<Sql> = params.iter().map(to_sql).collect();
            conn.execute(sql, rusqlite::params_from_iter(params.iter())).map(|_| ())
        }
        None => conn.execute_batch(sql),
    };
    done.map_err(|e| Error::new(format!("db.execute error: {e}")))?;
    Ok(Value::NULL)
}

/// `db.query(sql, params?)`: the rows of one statement as objects keyed by column name.
fn query(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(sql) = str_arg(args, 0) else {
        return fail("db.query() requires a SQL string");
    };
    let params: Vec<Sql> = args.get(1).and_then(Value::as_array).unwrap_or(&[]).iter().map(to_sql).collect();
    let guard = slot();
    let Some(conn) = guard.as_ref() else {
        return fail(NO_CONNECTION);
    };
    let query_error = |e: rusqlite::Error| Error::new(format!("db.query error: {e}"));
    let mut stmt = conn.prepare(sql).map_err(query_error)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(query_error)?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return fail(format!("db.query row error: {e}")),
        };
        let mut m = map_with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let v = row.get_ref(i).map(from_sql).unwrap_or(Value::NULL);
            m.insert(Key::new(name), v);
        }
        out.push(Value::object(m));
    }
    Ok(Value::array(out))
}

fn close(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    let old = slot().take();
    // Closing outside the lock keeps other users of the slot from waiting on it.
    drop(old);
    Ok(Value::NULL)
}

fn last_insert_rowid(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    match slot().as_ref() {
        Some(conn) => Ok(Value::int(conn.last_insert_rowid())),
        None => fail(NO_CONNECTION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, j, s, show};
    use crate::builtins::BuiltinFn;

    /// The tests share the process-wide connection, so they run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ok(f: BuiltinFn, args: &[Value]) -> String {
        show(f(&mut host(), args).unwrap_or_else(|e| panic!("failed: {}", e.message())))
    }

    fn err(f: BuiltinFn, args: &[Value]) -> String {
        match f(&mut host(), args) {
            Ok(v) => panic!("succeeded with {}", show(v)),
            Err(e) => e.message().to_string(),
        }
    }

    fn memory() {
        assert_eq!(ok(open, &[s(":memory:")]), "true");
    }

    #[test]
    fn spec_example() {
        let _g = serial();
        memory();
        ok(execute, &[s("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")]);
        assert_eq!(ok(execute, &[s("INSERT INTO t (name, score) VALUES (?, ?)"), j(r#"["Alice", 9.5]"#)]), "null");
        assert_eq!(ok(last_insert_rowid, &[]), "1");
        assert_eq!(
            ok(query, &[s("SELECT * FROM t WHERE id = ?"), j("[1]")]),
            r#"[{ "id": 1, "name": "Alice", "score": 9.5 }]"#
        );
        assert_eq!(ok(query, &[s("SELECT count(*) AS c, 'x' AS s FROM t")]), r#"[{ "c": 1, "s": "x" }]"#);
        assert_eq!(ok(query, &[s("SELECT count(*), 1 + 1 FROM t")]), r#"[{ "count(*)": 1, "1 + 1": 2 }]"#);
        assert_eq!(ok(close, &[]), "null");
        assert_eq!(ok(close, &[]), "null");
    }

    #[test]
    fn conformance_basic_crud() {
        let _g = serial();
        memory();
        ok(execute, &[s("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")]);
        ok(execute, &[s("INSERT INTO users (name, age) VALUES ('Alice', 30)")]);
        ok(execute, &[s("INSERT INTO users (name, age) VALUES ('Bob', 25)")]);
        assert_eq!(
            ok(query, &[s("SELECT * FROM users ORDER BY id")]),
            r#"[{ "id": 1, "name": "Alice", "age": 30 }, { "id": 2, "name": "Bob", "age": 25 }]"#
        );
        ok(execute, &[s("UPDATE users SET age = 31 WHERE name = 'Alice'")]);
        assert_eq!(ok(query, &[s("SELECT age FROM users WHERE name = 'Alice'")]), r#"[{ "age": 31 }]"#);
        ok(execute, &[s("DELETE FROM users WHERE name = 'Bob'")]);
        assert_eq!(ok(query, &[s("SELECT count(*) AS n FROM users")]), r#"[{ "n": 1 }]"#);
        ok(close, &[]);
    }

    #[test]
    fn conformance_aggregation_and_params() {
        let _g = serial();
        memory();
        ok(execute, &[s("CREATE TABLE sales (region TEXT, amount INTEGER)")]);
        for (r, a) in [("north", 10), ("south", 5), ("north", 7), ("east", 3), ("south", 9)] {
            ok(execute, &[s("INSERT INTO sales VALUES (?, ?)"), Value::array(vec![s(r), i(a)])]);
        }
        assert_eq!(
            ok(
                query,
                &[s(
                    "SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region ORDER BY total DESC"
                )]
            ),
            r#"[{ "region": "north", "total": 17, "n": 2 }, { "region": "south", "total": 14, "n": 2 }, { "region": "east", "total": 3, "n": 1 }]"#
        );
        assert_eq!(
            ok(query, &[s("SELECT max(amount) AS hi, min(amount) AS lo, avg(amount) AS mean FROM sales")]),
            r#"[{ "hi": 10, "lo": 3, "mean": 6.8 }]"#
        );
        ok(execute, &[s("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INTEGER)")]);
        for row in [r#"["apple", 0.5, 10]"#, r#"["pear", 0.75, 4]"#, r#"["plum", 1.25, 0]"#] {
            ok(execute, &[s("INSERT INTO items (name, price, qty) VALUES (?, ?, ?)"), j(row)]);
        }
        assert_eq!(ok(last_insert_rowid, &[]), "3");
        assert_eq!(
            ok(query, &[s("SELECT name FROM items WHERE qty > ? ORDER BY name"), j("[0]")]),
            "[{ \"name\": \"apple\" }, { \"name\": \"pear\" }]"
        );
        assert_eq!(
            ok(query, &[s("SELECT name, price FROM items WHERE name = ?"), j(r#"["pear"]"#)]),
            r#"[{ "name": "pear", "price": 0.75 }]"#
        );
        assert_eq!(ok(query, &[s("SELECT sum(price * qty) AS total FROM items")]), r#"[{ "total": 8 }]"#);
        assert_eq!(
            ok(query, &[s("SELECT ? AS a, ? AS b, ? AS c"), j(r#"[1, "two", null]"#)]),
            r#"[{ "a": 1, "b": "two", "c": null }]"#
        );
        ok(close, &[]);
    }

    #[test]
    fn value_mapping() {
        let _g = serial();
        memory();
        let params = Value::array(vec![
            Value::TRUE,
            Value::FALSE,
            j("[1, 2]"),
            Value::NONE,
            Value::float(2.0),
            j(r#"{"k": 1}"#),
        ]);
        assert_eq!(
            ok(query, &[s("SELECT ? AS t, ? AS f, ? AS arr, ? AS n, ? AS x, ? AS o"), params]),
            r#"[{ "t": 1, "f": 0, "arr": "[1, 2]", "n": "None", "x": 2, "o": "{ "k": 1 }" }]"#
        );
        assert_eq!(
            ok(query, &[s("SELECT x'00ff10' AS b, typeof(2.0) AS k")]),
            r#"[{ "b": "<blob 3 bytes>", "k": "real" }]"#
        );
        // A non-Array second argument is ignored: execute runs a batch.
        ok(execute, &[s("CREATE TABLE a (x); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);"), i(7)]);
        assert_eq!(ok(query, &[s("SELECT x FROM a ORDER BY x"), s("ignored")]), r#"[{ "x": 1 }, { "x": 2 }]"#);
        // Statements without rows still run through query.
        assert_eq!(ok(query, &[s("INSERT INTO a VALUES (3)")]), "[]");
        assert_eq!(ok(last_insert_rowid, &[]), "3");
        // A quote in a parameter is data, never SQL.
        ok(execute, &[s("INSERT INTO a VALUES (?)"), j(r#"["x'); DROP TABLE a; --"]"#)]);
        assert_eq!(ok(query, &[s("SELECT count(*) AS n FROM a")]), r#"[{ "n": 4 }]"#);
        ok(close, &[]);
    }

    #[test]
    fn errors() {
        let _g = serial();
        ok(close, &[]);
        for f in [execute as BuiltinFn, query] {
            assert_eq!(err(f, &[s("SELECT 1")]), "no database connection open (call db.open() first)");
        }
        assert_eq!(err(last_insert_rowid, &[]), "no database connection open (call db.open() first)");
        assert_eq!(err(open, &[i(1)]), "db.open() requires a path string (use ':memory:' for in-memory)");
        assert_eq!(
            err(open, &[s("/no/such/dir/x.db")]),
            "db.open error: unable to open database file: /no/such/dir/x.db"
        );
        assert_eq!(err(execute, &[]), "db.execute() requires a SQL string");
        assert_eq!(err(query, &[i(1)]), "db.query() requires a SQL string");
        memory();
        assert_eq!(err(query, &[s("SELECT * FROM nothere")]), "db.query error: no such table: nothere");
        assert_eq!(
            err(execute, &[s("CREAT TABLE x (a)")]),
            "db.execute error: near \"CREAT\": syntax error in CREAT TABLE x (a) at offset 0"
        );
        ok(execute, &[s("CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")]);
        ok(execute, &[s("INSERT INTO k (v) VALUES (?)"), j(r#"["a"]"#)]);
        let e = err(execute, &[s("INSERT INTO k (v) VALUES (?)"), j(r#"["a"]"#)]);
        assert!(e.starts_with("db.execute error: ") && e.contains("UNIQUE"), "{e}");
        assert_eq!(ok(query, &[s("SELECT count(*) AS c FROM k")]), r#"[{ "c": 1 }]"#);
        assert_eq!(
            err(execute, &[s("INSERT INTO k (v) VALUES (?)"), j("[]")]),
            "db.execute error: Wrong number of parameters passed to query. Got 0, needed 1"
        );
        assert_eq!(
            err(query, &[s("SELECT ? AS a"), j("[]")]),
            "db.query error: Wrong number of parameters passed to query. Got 0, needed 1"
        );
        let e = err(query, &[s("INSERT INTO k (v) VALUES ('a')")]);
        assert!(e.starts_with("db.query row error: UNIQUE"), "{e}");
        ok(close, &[]);
    }

    #[test]
    fn files_and_corruption() {
        let _g = serial();
        let dir = std::env::temp_dir().join(format!("forge-db-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.db").to_string_lossy().into_owned();
        ok(open, &[s(&path)]);
        ok(execute, &[s("CREATE TABLE t (x); INSERT INTO t VALUES (42)")]);
        ok(close, &[]);
        ok(open, &[s(&path)]);
        assert_eq!(ok(query, &[s("SELECT x FROM t")]), r#"[{ "x": 42 }]"#);
        // Re-opening replaces the connection.
        memory();
        assert_eq!(err(query, &[s("SELECT x FROM t")]), "db.query error: no such table: t");
        let bad = dir.join("bad.db").to_string_lossy().into_owned();
        std::fs::write(&bad, "this is not a database, just some text that is long enough to look like a header")
            .unwrap();
        ok(open, &[s(&bad)]);
        assert_eq!(err(query, &[s("SELECT 1")]), "db.query error: file is not a database");
        assert_eq!(err(execute, &[s("CREATE TABLE y (a)")]), "db.execute error: file is not a database");
        ok(close, &[]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shared_across_threads() {
        let _g = serial();
        memory();
        ok(execute, &[s("CREATE TABLE c (n)")]);
        let worker = std::thread::spawn(|| {
            let mut h = host();
            execute(&mut h, &[s("INSERT INTO c VALUES (?)"), Value::array(vec![i(5)])])
                .map(|_| ())
                .map_err(|e| e.message().to_string())
        });
        assert_eq!(worker.join().unwrap(), Ok(()));
        assert_eq!(ok(query, &[s("SELECT n FROM c")]), r#"[{ "n": 5 }]"#);
        ok(close, &[]);
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("db");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["open", "execute", "query", "close", "last_insert_rowid"]);
    }
}
