//! The `mysql` module (spec 11 §11.17): MySQL and MariaDB through the synchronous
//! `mysql` crate (pure-Rust compression, rustls with ring).
//!
//! Connections are pools named by String ids (`mysql_1`, `mysql_2`, …) in a
//! process-wide table, so an id made at top level works in HTTP handlers on other
//! threads. Nothing connects before `mysql.connect`.
//!
//! Results are typed in both protocols: a query without parameters runs as a plain text
//! query, whose values arrive as text and are converted here by column type; with
//! parameters it is a prepared statement (binary protocol). Either way integers are
//! Ints, FLOAT/DOUBLE/DECIMAL Floats, DATE/DATETIME/TIMESTAMP `YYYY-MM-DD HH:MM:SS`,
//! TIME `[-]H:MM:SS` (days folded into hours) and character and binary data Strings.
//!
//! Error details are written the way the spec quotes them (the wording of the
//! reference's driver, e.g. `Input/output error: Input/output error: Connection refused
//! (os error 111)`): [`error_text`] maps this driver's errors onto it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use mysql::consts::ColumnType;
use mysql::prelude::Queryable;
use mysql::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row};

use crate::builtins::Registry;
use crate::display::display;
use crate::error::{fail, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Kind, Value};

pub fn register(r: &mut Registry) {
    r.module("mysql", "connect", connect);
    r.module("mysql", "query", query);
    r.module("mysql", "execute", execute);
    r.module("mysql", "close", close);
}

/// The open pools by id, and the number of connect attempts so far.
struct Pools {
    next: u64,
    pools: HashMap<String, Pool>,
}

static POOLS: Mutex<Option<Pools>> = Mutex::new(None);

fn pools() -> MutexGuard<'static, Option<Pools>> {
    POOLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh id (`mysql_N`), counting every connect attempt.
fn next_id() -> String {
    let mut guard = pools();
    let table = guard.get_or_insert_with(|| Pools { next: 0, pools: HashMap::new() });
    table.next += 1;
    format!("mysql_{}", table.next)
}

/// The pool of `id`, cloned out of the table (a pool is a shared handle).
fn pool_of(id: &str) -> Option<Pool> {
    pools().as_ref().and_then(|t| t.pools.get(id).cloned())
}

/// The text of a URL error, as the spec quotes it.
fn url_error_text(e: &mysql::UrlError) -> String {
    use mysql::UrlError as U;
    match e {
        U::ParseError(e) => format!("URL parse error: {e}"),
        U::UnsupportedScheme(s) => format!("Unsupported connection URL scheme `{s}'"),
        U::FeatureRequired(feature, param) => {
            format!("Connection URL parameter `{param}' requires feature `{feature}'")
        }
        U::InvalidValue(param, value) => format!("Invalid value `{value}' for connection URL parameter `{param}'"),
        U::UnknownParameter(param) => format!("Unknown connection URL parameter `{param}'"),
        U::InvalidPoolConstraints { min, max } => {
            format!("Invalid pool constraints: pool_min ({min}) > pool_max ({max}).")
        }
        U::BadUrl => "Invalid or incomplete connection URL".into(),
    }
}

/// The DETAIL of a driver error, in the wording the spec quotes: `Input/output error:
/// Input/output error: …` for I/O failures (a refused connection included), `Server
/// error: `ERROR 1146 (42S02): …'` for errors reported by the server, `Driver error:
/// `…'` for the driver's own.
fn error_text(e: &mysql::Error) -> String {
    use mysql::DriverError as D;
    use mysql::Error as E;
    match e {
        E::IoError(io) => format!("Input/output error: Input/output error: {io}"),
        E::CodecError(c) => format!("Input/output error: Input/output error: {c}"),
        E::DriverError(D::CouldNotConnect(Some((_, desc, _)))) => {
            format!("Input/output error: Input/output error: {desc}")
        }
        E::DriverError(D::ConnectTimeout) => "Input/output error: Input/output error: connection timed out".into(),
        E::DriverError(D::MismatchedStmtParams(required, supplied)) => {
            format!("Driver error: `Statement takes {required} parameters but {supplied} was supplied.'")
        }
        E::DriverError(d) => format!("Driver error: `{d}'"),
        E::MySqlError(m) => format!("Server error: `ERROR {} ({}): {}'", m.code, m.state, m.message),
        E::UrlError(u) => format!("URL error: `{}'", url_error_text(u)),
        E::TlsError(t) => format!("Input/output error: TLS error: `{t}'"),
        E::FromValueError(_) => "Driver error: `Error converting from mysql value.'".into(),
        E::FromRowError(_) => "Driver error: `Error converting from mysql row.'".into(),
    }
}

fn connect(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let url = match args.len() {
        1 => match args[0].as_str() {
            Some(url) => url.to_string(),
            None => return fail("mysql.connect() requires a connection string or (host, user, pass, db)"),
        },
        4 | 5 => {
            let mut parts = Vec::with_capacity(4);
            for (i, what) in ["host", "user", "password", "database"].iter().enumerate() {
                match args[i].as_str() {
                    Some(s) => parts.push(s),
                    None => return fail(format!("mysql.connect() {what} must be a string")),
                }
            }
            let (host, user, pass, db) = (parts[0], parts[1], parts[2], parts[3]);
            match args.get(4) {
                Some(port) => match port.as_int() {
                    Some(port) => format!("mysql://{user}:{pass}@{host}:{port}/{db}"),
                    None => return fail("mysql.connect() port must be an integer"),
                },
                None => format!("mysql://{user}:{pass}@{host}/{db}"),
            }
        }
        _ => return fail("mysql.connect() requires 1 arg (url) or 4 args (host, user, pass, db)"),
    };
    let opts = match Opts::from_url(&url) {
        Ok(opts) => opts,
        Err(e) => return fail(format!("mysql.connect() invalid URL: {}", url_error_text(&e))),
    };
    let id = next_id();
    // One connection is opened now (the check); more are opened on demand.
    let constraints = PoolConstraints::new(1, 16).unwrap_or(PoolConstraints::DEFAULT);
    let opts = OptsBuilder::from_opts(opts).pool_opts(PoolOpts::default().with_constraints(constraints));
    let pool = Pool::new(opts).and_then(|pool| pool.get_conn().map(|_| pool));
    match pool {
        Ok(pool) => {
            if let Some(table) = pools().as_mut() {
                table.pools.insert(id.clone(), pool);
            }
            Ok(Value::string(id))
        }
        Err(e) => fail(format!("mysql.connect() error: {}", error_text(&e))),
    }
}

/// A parameter: Int → integer, Float → double, String → bytes, Bool → 1/0, `null` and
/// `None` → NULL, anything else → its display rendering.
fn to_param(v: &Value) -> mysql::Value {
    match v.kind() {
        Kind::Null | Kind::None | Kind::Undef => mysql::Value::NULL,
        Kind::Int => mysql::Value::Int(v.as_int().unwrap_or(0)),
        Kind::Float => mysql::Value::Double(v.as_float().unwrap_or(f64::NAN)),
        Kind::Bool => mysql::Value::Int(i64::from(v.as_bool() == Some(true))),
        Kind::Str => mysql::Value::Bytes(v.as_str().unwrap_or("").as_bytes().to_vec()),
        _ => mysql::Value::Bytes(display(v).into_bytes()),
    }
}

fn is_integer(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR
    )
}

fn is_float(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(t, MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE | MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL)
}

fn is_datetime(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_DATE
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2
    )
}

fn is_time(t: ColumnType) -> bool {
    matches!(t, ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2)
}

/// An unsigned integer beyond i64 becomes a Float.
fn unsigned(u: u64) -> Value {
    i64::try_from(u).map_or_else(|_| Value::float(u as f64), Value::int)
}

/// `YYYY-MM-DD HH:MM:SS` of a DATE/DATETIME/TIMESTAMP text (`2024-01-02`,
/// `2024-01-02 03:04:05.123`).
fn datetime_text(text: &str) -> String {
    let date = text.get(..10).unwrap_or(text);
    let time = text.get(11..19).unwrap_or("00:00:00");
    format!("{date} {time}")
}

/// `[-]H:MM:SS` of a TIME text (`27:30:00`, `-01:02:03.5`, `838:59:59`).
fn time_text(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let rest = rest.split('.').next().unwrap_or(rest);
    let mut fields = rest.split(':');
    let (Some(h), Some(m), Some(s)) = (fields.next(), fields.next(), fields.next()) else {
        return text.to_string();
    };
    match h.parse::<u64>() {
        Ok(h) => format!("{sign}{h}:{m}:{s}"),
        Err(_) => text.to_string(),
    }
}

/// The Forge value of one result value of a column of type `t`.
fn from_mysql(v: &mysql::Value, t: ColumnType) -> Value {
    match v {
        mysql::Value::NULL => Value::NULL,
        mysql::Value::Int(n) => Value::int(*n),
        mysql::Value::UInt(u) => unsigned(*u),
        // Through the shortest decimal text, so FLOAT 0.1 is the Float 0.1.
        mysql::Value::Float(x) => Value::float(x.to_string().parse().unwrap_or(f64::from(*x))),
        mysql::Value::Double(x) => Value::float(*x),
        mysql::Value::Date(y, mo, d, h, mi, s, _) => {
            Value::string(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
        }
        mysql::Value::Time(neg, days, h, mi, s, _) => {
            let hours = u64::from(*days) * 24 + u64::from(*h);
            Value::string(format!("{}{hours}:{mi:02}:{s:02}", if *neg { "-" } else { "" }))
        }
        mysql::Value::Bytes(b) => {
            let text = String::from_utf8_lossy(b);
            if is_integer(t) {
                if let Ok(n) = text.parse::<i64>() {
                    return Value::int(n);
                }
                if let Ok(u) = text.parse::<u64>() {
                    return unsigned(u);
                }
            } else if is_float(t) {
                if let Ok(x) = text.parse::<f64>() {
                    return Value::float(x);
                }
            } else if is_datetime(t) {
                return Value::string(datetime_text(&text));
            } else if is_time(t) {
                return Value::string(time_text(&text));
            } else if t == ColumnType::MYSQL_TYPE_BIT && b.len() <= 8 {
                // BIT(n) as the number its bits spell.
                return Value::int(b.iter().fold(0i64, |acc, x| (acc << 8) | i64::from(*x)));
            }
            Value::string(text.into_owned())
        }
    }
}

/// The rows of a result set as objects (column name → value).
fn row_value(row: &Row) -> Value {
    let columns = row.columns_ref();
    let mut m = map_with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        let v = row.as_ref(i).map_or(Value::NULL, |v| from_mysql(v, col.column_type()));
        m.insert(Key::new(&col.name_str()), v);
    }
    Value::object(m)
}

/// The arguments of `query`/`execute`: id, SQL and parameters (`None` without).
fn statement_args<'a>(name: &str, args: &'a [Value]) -> Result<(&'a str, &'a str, Option<Vec<mysql::Value>>)> {
    let Some(id) = args.first().and_then(Value::as_str) else {
        return fail(format!("mysql.{name}() requires a connection ID as first argument"));
    };
    let Some(sql) = args.get(1).and_then(Value::as_str) else {
        return fail(format!("mysql.{name}() requires a SQL string as second argument"));
    };
    let params = match args.get(2).filter(|v| !v.is_null() && !v.is_undef()) {
        None => None,
        Some(v) => match v.as_array() {
            Some(items) => Some(items.iter().map(to_param).collect()),
            None => return fail(format!("mysql.{name}() third argument must be an array of parameters")),
        },
    };
    Ok((id, sql, params))
}

/// A pooled connection for `id`, or the spec's error.
fn conn_for(name: &str, id: &str) -> Result<mysql::PooledConn> {
    let Some(pool) = pool_of(id) else {
        return fail(format!("MySQL connection '{id}' not found"));
    };
    pool.get_conn().or_else(|e| fail(format!("mysql.{name}() connection error: {}", error_text(&e))))
}

fn query(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (id, sql, params) = statement_args("query", args)?;
    let mut conn = conn_for("query", id)?;
    let error = |e: mysql::Error| crate::error::Error::new(format!("mysql.query() error: {}", error_text(&e)));
    let mut out = Vec::new();
    // The rows of the first result set (a text query may hold several statements).
    match params {
        None => {
            let mut result = conn.query_iter(sql).map_err(error)?;
            if let Some(set) = result.iter() {
                for row in set {
                    out.push(row_value(&row.map_err(error)?));
                }
            }
            while result.iter().is_some() {}
        }
        Some(params) => {
            let mut result = conn.exec_iter(sql, mysql::Params::Positional(params)).map_err(error)?;
            if let Some(set) = result.iter() {
                for row in set {
                    out.push(row_value(&row.map_err(error)?));
                }
            };
        }
    }
    Ok(Value::array(out))
}

fn execute(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (id, sql, params) = statement_args("execute", args)?;
    let mut conn = conn_for("execute", id)?;
    let error = |e: mysql::Error| crate::error::Error::new(format!("mysql.execute() error: {}", error_text(&e)));
    let affected = match params {
        None => {
            // Every result set is read; the count is the last statement's.
            let mut result = conn.query_iter(sql).map_err(error)?;
            let mut affected = result.affected_rows();
            while let Some(set) = result.iter() {
                affected = set.affected_rows();
                for row in set {
                    row.map_err(error)?;
                }
            }
            affected
        }
        Some(params) => {
            let result = conn.exec_iter(sql, mysql::Params::Positional(params)).map_err(error)?;
            let affected = result.affected_rows();
            drop(result);
            affected
        }
    };
    Ok(unsigned(affected))
}

fn close(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(id) = args.first().and_then(Value::as_str) else {
        return fail("mysql.close() requires a connection ID");
    };
    let pool = pools().as_mut().and_then(|t| t.pools.remove(id));
    // Dropping the last handle of a pool closes its idle connections.
    Ok(Value::bool(pool.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdlib::testing::{arr, call, call_err, f, i, keys_of, obj, s, show};

    /// The tests share the id counter, so they run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// A connection to the test database, or why the test is skipped (no server on
    /// 127.0.0.1:3306).
    fn connected() -> Option<(MutexGuard<'static, ()>, Value)> {
        let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 3306));
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_err() {
            eprintln!("skipping: no MySQL/MariaDB server at 127.0.0.1:3306");
            return None;
        }
        let admin = call("mysql", "connect", &[s("mysql://root@127.0.0.1:3306/mysql")]);
        call("mysql", "execute", &[admin.clone(), s("CREATE DATABASE IF NOT EXISTS forge_test_mysql")]);
        call("mysql", "close", &[admin]);
        let conn = call("mysql", "connect", &[s("127.0.0.1"), s("root"), s(""), s("forge_test_mysql"), i(3306)]);
        Some((guard, conn))
    }

    fn q(conn: &Value, sql: &str, params: Option<Value>) -> String {
        let mut args = vec![conn.clone(), s(sql)];
        args.extend(params);
        show(&call("mysql", "query", &args))
    }

    fn ex(conn: &Value, sql: &str, params: Option<Value>) -> String {
        let mut args = vec![conn.clone(), s(sql)];
        args.extend(params);
        show(&call("mysql", "execute", &args))
    }

    #[test]
    fn members_in_catalogue_order() {
        assert_eq!(keys_of(&crate::builtins::module_object("mysql")), ["connect", "query", "execute", "close"]);
    }

    #[test]
    fn crud() {
        let Some((_g, conn)) = connected() else { return };
        ex(&conn, "DROP TABLE IF EXISTS people", None);
        assert_eq!(
            ex(
                &conn,
                "CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, age INT, \
                 score DOUBLE, active BOOLEAN, born DATE) DEFAULT CHARSET=utf8mb4",
                None
            ),
            "0"
        );
        let insert = "INSERT INTO people (name, age, score, active, born) VALUES (?, ?, ?, ?, ?)";
        assert_eq!(ex(&conn, insert, Some(arr(vec![s("Ada"), i(36), f(9.5), Value::TRUE, s("1815-12-10")]))), "1");
        assert_eq!(ex(&conn, insert, Some(arr(vec![s("Grace"), i(85), Value::NULL, Value::FALSE, Value::NONE]))), "1");
        assert_eq!(ex(&conn, insert, Some(arr(vec![s("Zoë ✓"), i(20), f(0.25), Value::TRUE, s("2004-02-29")]))), "1");
        let all = r#"[{ "id": 1, "name": "Ada", "age": 36, "score": 9.5, "active": 1, "born": "1815-12-10 00:00:00" }, { "id": 2, "name": "Grace", "age": 85, "score": null, "active": 0, "born": null }, { "id": 3, "name": "Zoë ✓", "age": 20, "score": 0.25, "active": 1, "born": "2004-02-29 00:00:00" }]"#;
        assert_eq!(q(&conn, "SELECT * FROM people WHERE id > ? ORDER BY id", Some(arr(vec![i(0)]))), all);
        // The same values without parameters (text protocol).
        assert_eq!(q(&conn, "SELECT * FROM people ORDER BY id", None), all);
        assert_eq!(
            ex(&conn, "UPDATE people SET age = ?, active = ? WHERE id = ?", Some(arr(vec![i(37), Value::FALSE, i(1)]))),
            "1"
        );
        assert_eq!(ex(&conn, "DELETE FROM people WHERE id = ?", Some(arr(vec![i(2)]))), "1");
        assert_eq!(ex(&conn, "DELETE FROM people WHERE id = ?", Some(arr(vec![i(2)]))), "0");
        assert_eq!(ex(&conn, "UPDATE people SET age = age + 1", None), "2");
        assert_eq!(
            q(&conn, "SELECT COUNT(*) AS n, MAX(age) AS oldest FROM people WHERE id > ?", Some(arr(vec![i(0)]))),
            r#"[{ "n": 2, "oldest": 38 }]"#
        );
        // A quote in a parameter is data.
        ex(&conn, "INSERT INTO people (name) VALUES (?)", Some(arr(vec![s("x'); DROP TABLE people; --")])));
        assert_eq!(q(&conn, "SELECT COUNT(*) AS n FROM people", None), r#"[{ "n": 3 }]"#);
        // Other values go as their display rendering.
        ex(&conn, "INSERT INTO people (name) VALUES (?)", Some(arr(vec![obj(vec![("k", i(1))])])));
        assert_eq!(q(&conn, "SELECT name FROM people WHERE id = 5", None), r#"[{ "name": "{ "k": 1 }" }]"#);
        // Statements without rows give [].
        assert_eq!(q(&conn, "UPDATE people SET age = 1 WHERE id = 99", None), "[]");
        ex(&conn, "DROP TABLE people", None);
        assert_eq!(show(&call("mysql", "close", std::slice::from_ref(&conn))), "true");
        assert_eq!(show(&call("mysql", "close", &[conn])), "false");
    }

    #[test]
    fn typed_values_in_both_protocols() {
        let Some((_g, conn)) = connected() else { return };
        ex(&conn, "DROP TABLE IF EXISTS typed_values", None);
        ex(
            &conn,
            "CREATE TABLE typed_values (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(20), n BIGINT, \
             ratio DOUBLE, price DECIMAL(10, 2), flag BOOLEAN, day DATE, at DATETIME, dur TIME, missing INT, \
             f FLOAT, u BIGINT UNSIGNED, tiny TINYINT, yr YEAR, ts TIMESTAMP NULL, frac DATETIME(3), \
             neg TIME, bits BIT(10), blob_ BLOB, txt TEXT, ch CHAR(3), e ENUM('a', 'b')) DEFAULT CHARSET=utf8mb4",
            None,
        );
        ex(
            &conn,
            "INSERT INTO typed_values (label, n, ratio, price, flag, day, at, dur, f, u, tiny, yr, ts, frac, neg, \
             bits, blob_, txt, ch, e) VALUES ('first', 42, 2.5, 19.99, TRUE, '2024-01-02', '2024-01-02 03:04:05', \
             '27:30:00', 0.1, 18446744073709551615, -5, 2024, '2024-05-06 07:08:09', '2024-01-02 03:04:05.678', \
             '-01:02:03', b'1000000001', x'6869', 'long text', 'ab', 'b')",
            None,
        );
        let expected = r#"[{ "id": 1, "label": "first", "n": 42, "ratio": 2.5, "price": 19.99, "flag": 1, "day": "2024-01-02 00:00:00", "at": "2024-01-02 03:04:05", "dur": "27:30:00", "missing": null, "f": 0.1, "u": 18446744073709552000, "tiny": -5, "yr": 2024, "ts": "2024-05-06 07:08:09", "frac": "2024-01-02 03:04:05", "neg": "-1:02:03", "bits": 513, "blob_": "hi", "txt": "long text", "ch": "ab", "e": "b" }]"#;
        assert_eq!(q(&conn, "SELECT * FROM typed_values", None), expected);
        assert_eq!(q(&conn, "SELECT * FROM typed_values WHERE id = ?", Some(arr(vec![i(1)]))), expected);
        for params in [None, Some(arr(vec![]))] {
            assert_eq!(
                q(&conn, "SELECT 1 + 1 AS two, 'text' AS s, 1.5e0 AS d, NULL AS nothing, 1.25 AS dec_", params),
                r#"[{ "two": 2, "s": "text", "d": 1.5, "nothing": null, "dec_": 1.25 }]"#
            );
        }
        ex(&conn, "DROP TABLE typed_values", None);
        call("mysql", "close", &[conn]);
    }

    #[test]
    fn ids_count_attempts() {
        let Some((_g, conn)) = connected() else { return };
        let n = |v: &Value| v.as_str().and_then(|s| s.strip_prefix("mysql_")).and_then(|n| n.parse::<u64>().ok());
        let first = n(&conn).expect("an id mysql_N");
        let _ = call_err("mysql", "connect", &[s("mysql://root@127.0.0.1:1/x")]);
        let next = call("mysql", "connect", &[s("mysql://root@127.0.0.1:3306/forge_test_mysql")]);
        assert_eq!(n(&next), Some(first + 2));
        // Argument errors take no id.
        let _ = call_err("mysql", "connect", &[i(1)]);
        let after = call("mysql", "connect", &[s("mysql://root@127.0.0.1:3306/forge_test_mysql")]);
        assert_eq!(n(&after), Some(first + 3));
        // Connections are independent.
        assert_eq!(show(&call("mysql", "close", &[next])), "true");
        assert_eq!(q(&after, "SELECT 7 AS n", None), r#"[{ "n": 7 }]"#);
        call("mysql", "close", &[after]);
        call("mysql", "close", &[conn]);
    }

    #[test]
    fn errors() {
        let Some((_g, conn)) = connected() else { return };
        let too_few = "mysql.connect() requires 1 arg (url) or 4 args (host, user, pass, db)";
        assert_eq!(call_err("mysql", "connect", &[]), too_few);
        assert_eq!(call_err("mysql", "connect", &[s("a"), s("b")]), too_few);
        assert_eq!(call_err("mysql", "connect", &[s("a"), s("b"), s("c"), s("d"), i(1), i(2)]), too_few);
        assert_eq!(
            call_err("mysql", "connect", &[i(1)]),
            "mysql.connect() requires a connection string or (host, user, pass, db)"
        );
        for (n, what) in ["host", "user", "password", "database"].iter().enumerate() {
            let mut args = vec![s("h"), s("u"), s("p"), s("d")];
            args[n] = i(1);
            assert_eq!(call_err("mysql", "connect", &args), format!("mysql.connect() {what} must be a string"));
        }
        assert_eq!(
            call_err("mysql", "connect", &[s("h"), s("u"), s("p"), s("d"), s("3306")]),
            "mysql.connect() port must be an integer"
        );
        assert_eq!(
            call_err("mysql", "connect", &[s("not a url")]),
            "mysql.connect() invalid URL: URL parse error: relative URL without a base"
        );
        assert_eq!(
            call_err("mysql", "connect", &[s("http://root@127.0.0.1/x")]),
            "mysql.connect() invalid URL: Unsupported connection URL scheme `http'"
        );
        assert_eq!(
            call_err("mysql", "connect", &[s("mysql://root@127.0.0.1:1/x")]),
            "mysql.connect() error: Input/output error: Input/output error: Connection refused (os error 111)"
        );
        let e = call_err("mysql", "connect", &[s("127.0.0.1"), s("forge_no_such_user"), s("bad"), s("x"), i(3306)]);
        assert!(e.starts_with("mysql.connect() error: Server error: `ERROR 1045 (28000): Access denied"), "{e}");
        for name in ["query", "execute"] {
            assert_eq!(
                call_err("mysql", name, &[]),
                format!("mysql.{name}() requires a connection ID as first argument")
            );
            assert_eq!(
                call_err("mysql", name, std::slice::from_ref(&conn)),
                format!("mysql.{name}() requires a SQL string as second argument")
            );
            assert_eq!(
                call_err("mysql", name, &[conn.clone(), s("SELECT 1"), i(1)]),
                format!("mysql.{name}() third argument must be an array of parameters")
            );
            assert_eq!(call_err("mysql", name, &[s("mysql_0"), s("SELECT 1")]), "MySQL connection 'mysql_0' not found");
            assert_eq!(
                call_err("mysql", name, &[conn.clone(), s("SELECT * FROM nothere")]),
                format!(
                    "mysql.{name}() error: Server error: `ERROR 1146 (42S02): Table 'forge_test_mysql.nothere' doesn't exist'"
                )
            );
            assert_eq!(
                call_err("mysql", name, &[conn.clone(), s("SELECT * FROM nothere WHERE id = ?"), arr(vec![i(1)])]),
                format!(
                    "mysql.{name}() error: Server error: `ERROR 1146 (42S02): Table 'forge_test_mysql.nothere' doesn't exist'"
                )
            );
            assert_eq!(
                call_err("mysql", name, &[conn.clone(), s("SELECT ? AS a"), arr(vec![])]),
                format!("mysql.{name}() error: Driver error: `Statement takes 1 parameters but 0 was supplied.'")
            );
        }
        assert_eq!(call_err("mysql", "close", &[]), "mysql.close() requires a connection ID");
        // The connection survives errors.
        assert_eq!(q(&conn, "SELECT 'ok' AS s", None), r#"[{ "s": "ok" }]"#);
        call("mysql", "close", &[conn]);
    }

    #[test]
    fn shared_across_threads() {
        let Some((_g, conn)) = connected() else { return };
        let id = conn.as_str().expect("id").to_string();
        let worker = std::thread::spawn(move || {
            crate::stdlib::testing::try_call("mysql", "query", &[s(&id), s("SELECT 6 * 7 AS n")])
                .map(|v| show(&v))
                .map_err(|e| e.message().to_string())
        });
        assert_eq!(worker.join().expect("thread"), Ok(r#"[{ "n": 42 }]"#.to_string()));
        call("mysql", "close", &[conn]);
    }

    #[test]
    fn text_conversions() {
        assert_eq!(time_text("-838:59:59.000000"), "-838:59:59");
        assert_eq!(time_text("01:02:03"), "1:02:03");
        assert_eq!(time_text("garbage"), "garbage");
        assert_eq!(datetime_text("2024-01-02"), "2024-01-02 00:00:00");
        assert_eq!(datetime_text("0000-00-00 00:00:00"), "0000-00-00 00:00:00");
    }
}
