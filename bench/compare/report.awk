# report.awk -- the markdown table of bench/compare.sh: a row per
# configuration (in the order of their first run), a column per figure.
#
#   awk -F'\t' -f report.awk RESULTS
#
# RESULTS, one line per run, tab-separated: the configuration's name, then
#    2 jobs/s            3 jobs/s over BullMQ's in the same repetition
#    4 peak RSS MiB of the node process or the coordinator
#    5 peak RSS MiB of the largest fleetq worker
#    6 CPU s of the app processes     7 CPU s of Redis
#    8 Redis CPU us per job
#    9, 10 submit->start p50, p99 ms from the coordinator's intake
#   11, 12 the same from the XADD
# A figure "-" was not measured. With one run a cell is that run's figure;
# with more, the median over the runs and, in parentheses, the worst run's
# (the lowest jobs/s and ratio, the highest CPU and latency); peak RSS is
# the median alone. Two figures in a cell are joined by "/".
BEGIN {
    # figures, printf format, better (+ higher, - lower, = median only), head1, head2
    ncol = split("2|3|4|5|6|7|8|9,10|11,12", cfields, "|")
    split("%.0f|%.2f|%.1f|%.1f|%.2f|%.2f|%.0f|%.0f|%.0f", cfmt, "|")
    split("+|+|=|=|-|-|-|-|-", cbetter, "|")
    split("jobs/s|x BullMQ|RSS MiB|RSS MiB|CPU s|CPU s|Redis CPU|p50/p99 ms|p50/p99 ms", chead1, "|")
    split("|same rep|node/coord|worker|app|Redis|us/job|from intake|from XADD", chead2, "|")
}
{
    if (!($1 in nruns)) { nconf++; conf[nconf] = $1; nruns[$1] = 0 }
    r = ++nruns[$1]
    for (i = 2; i <= NF; i++) fig[$1, r, i] = $i
}

# sorts v[1..n] ascending (n is small)
function sort_values(v, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = v[i]
        for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
}
# the median ("med") or the worst ("worst") of figure k of configuration s;
# "" when no run measured it
function pick(s, k, what, better,    n, r, x, v) {
    n = 0
    for (r = 1; r <= nruns[s]; r++) {
        x = fig[s, r, k]
        if (x != "-" && x != "") v[++n] = x + 0
    }
    if (n == 0) return ""
    sort_values(v, n)
    if (what == "worst") return better == "+" ? v[1] : v[n]
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function cell(s, c, what,    nf, ks, i, x, out) {
    nf = split(cfields[c], ks, ",")
    out = ""
    for (i = 1; i <= nf; i++) {
        x = pick(s, ks[i], what, cbetter[c])
        if (x == "") return ""
        out = out (i > 1 ? "/" : "") sprintf(cfmt[c], x)
    }
    return out
}
function max(a, b) { return a > b ? a : b }
function dashes(n,    t) { t = ""; while (n-- > 0) t = t "-"; return t }
END {
    w0 = length("configuration")
    for (i = 1; i <= nconf; i++) w0 = max(w0, length(conf[i]))
    for (c = 1; c <= ncol; c++) {
        w[c] = max(length(chead1[c]), length(chead2[c]))
        for (i = 1; i <= nconf; i++) {
            s = conf[i]
            t = cell(s, c, "med")
            if (t == "") t = "-"
            else if (nruns[s] > 1 && cbetter[c] != "=") t = t " (" cell(s, c, "worst") ")"
            text[i, c] = t
            w[c] = max(w[c], length(t))
        }
    }
    line1 = sprintf("| %-*s |", w0, "configuration")
    line2 = sprintf("| %-*s |", w0, "")
    rule = "|" dashes(w0 + 2) "|"
    for (c = 1; c <= ncol; c++) {
        line1 = line1 sprintf(" %*s |", w[c], chead1[c])
        line2 = line2 sprintf(" %*s |", w[c], chead2[c])
        rule = rule dashes(w[c] + 2) "|"
    }
    print line1; print line2; print rule
    for (i = 1; i <= nconf; i++) {
        row = sprintf("| %-*s |", w0, conf[i])
        for (c = 1; c <= ncol; c++) row = row sprintf(" %*s |", w[c], text[i, c])
        print row
    }
}
