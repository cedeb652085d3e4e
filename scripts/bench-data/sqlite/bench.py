# sqlite: 10k inserts in one transaction into an in-memory database, then aggregate
import sqlite3
N = 10000
def run(n):
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
    with con:
        for i in range(n):
            con.execute("INSERT INTO t (name, score) VALUES (?, ?)", ("n" + str(i), i % 101))
    c, s = con.execute("SELECT count(*), sum(score) FROM t").fetchone()
    return f"{c} {s}"
print(run(N))
