# known-users.awk: user ids (one a line, first field) -> redis-cli commands recording them as
# known to exist, as POST /api/v1/users does on creation: {q}:known (the default mode), {q}:t
# (the timed mode), and the older set {q}:users; 1,000 users a command.
{ u[NR % 1000] = $1 }
NR % 1000 == 0 { flush(1000) }
END { if (NR % 1000) flush(NR % 1000) }
function flush(n,  i, k) {
  for (k = 1; k <= 3; k++) {
    printf "%s", k == 1 ? "SADD {q}:users" : k == 2 ? "HSET {q}:known" : "HSET {q}:t"
    for (i = 1; i <= n; i++) printf " %s%s", u[i % 1000], k == 1 ? "" : " \"\""
    print ""
  }
}
