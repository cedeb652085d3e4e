// csv: parse 100k rows (split-based, no quoting needed), then count and sum a column
const N = 100000;
function run(n) {
  const lines = ["id,name,score,active"];
  for (let i = 0; i < n; i++) lines.push(`${i},name${i},${i % 97},${i % 2 === 0}`);
  const [header, ...body] = lines.join("\n").split("\n");
  const keys = header.split(",");
  const rows = body.map((l) => { const f = l.split(","); const o = {}; keys.forEach((k, j) => (o[k] = f[j])); return o; });
  let total = 0;
  for (const r of rows) total += Number(r.score);
  return `${rows.length} ${total}`;
}
console.log(run(N));
