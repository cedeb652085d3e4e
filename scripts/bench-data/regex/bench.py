# regex: count the numbers in 1 MB of text with re.findall
import re
N = 20000
def run(n):
    text = "".join("order " + str(i) + " shipped to 221B Baker Street on day 17\n" for i in range(n))
    found = re.findall(r"\d+", text)
    return f"{len(found)} {sum(len(f) for f in found)}"
print(run(N))
