# csv: parse 100k rows with the csv module, then count and sum a column
import csv, io
N = 100000
def run(n):
    lines = ["id,name,score,active"] + [f"{i},name{i},{i % 97},{'true' if i % 2 == 0 else 'false'}" for i in range(n)]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    total = sum(int(r["score"]) for r in rows)
    return f"{len(rows)} {total}"
print(run(N))
