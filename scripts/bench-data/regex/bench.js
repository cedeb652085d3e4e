// regex: count the numbers in 1 MB of text with a global RegExp
const N = 20000;
function run(n) {
  const parts = [];
  for (let i = 0; i < n; i++) parts.push("order " + i + " shipped to 221B Baker Street on day 17\n");
  const found = parts.join("").match(/\d+/g) || [];
  let total = 0;
  for (const f of found) total += f.length;
  return `${found.length} ${total}`;
}
console.log(run(N));
