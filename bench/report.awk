# report.awk -- one markdown table of a benchmark (bench/quota.sh,
# bench/compare.sh): a row per strategy (in the order of their first run),
# a column per figure. With one run per strategy a cell is that run's
# figure; with more, the median over the runs followed by the worst run's
# in parentheses (the lowest of a figure where higher is better, the
# highest where lower is better).
#
#   awk -F'\t' [-v first=NAME] [-v width0=N] -f report.awk SPEC RESULTS
#
# first is the head of the strategies' column ("strategy"), width0 its
# least width (30).
# SPEC, one line per column after the strategy's, tab-separated:
#   figures  the figures the cell shows, joined by "/" (1 = the first after
#            the strategy's name), e.g. "5,6" for "p50/p95"
#   format   printf format of one figure, e.g. "%.1f" or "%.0f%%"
#   better   + higher is better, - lower is better, = neither (median only)
#   width    the column's least width
#   head1, head2  the two header lines
# RESULTS, one line per run: strategy's name, then its figures, tab-separated;
# a figure "-" is unknown (left out of the median), "never" is worse than
# any number.
BEGIN {
    never = 1e300
    if (first == "") first = "strategy"
    if (width0 == "") width0 = 30
}
FNR == NR {
    ncol++
    cfields[ncol] = $1; cfmt[ncol] = $2; cbetter[ncol] = $3; cwidth[ncol] = $4
    chead1[ncol] = $5; chead2[ncol] = $6
    next
}
{
    if (!($1 in nruns)) { nstrat++; strat[nstrat] = $1; nruns[$1] = 0 }
    r = ++nruns[$1]
    for (i = 2; i <= NF; i++) fig[$1, r, i - 1] = $i
}

# sorts v[1..n] ascending (n is small)
function sort_values(v, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = v[i]
        for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
}
function show(x, f) {
    if (x == "-") return "-"
    if (x >= never) return "never"
    return sprintf(f, x)
}
# the median ("med") or the worst ("worst") of figure k of strategy s
function pick(s, k, what, better,    n, r, x, v) {
    n = 0
    for (r = 1; r <= nruns[s]; r++) {
        x = fig[s, r, k]
        if (x == "-" || x == "") continue
        v[++n] = (x == "never") ? never : x + 0
    }
    if (n == 0) return "-"
    sort_values(v, n)
    if (what == "worst") return better == "+" ? v[1] : v[n]
    if (n % 2) return v[(n + 1) / 2]
    if (v[n / 2] >= never || v[n / 2 + 1] >= never) return never
    return (v[n / 2] + v[n / 2 + 1]) / 2
}
function cell(s, c, what,    nf, ks, i, out) {
    nf = split(cfields[c], ks, ",")
    out = ""
    for (i = 1; i <= nf; i++)
        out = out (i > 1 ? "/" : "") show(pick(s, ks[i], what, cbetter[c]), cfmt[c])
    return out
}
function max(a, b) { return a > b ? a : b }
function dashes(n,    t) { t = ""; while (n-- > 0) t = t "-"; return t }
END {
    w0 = max(width0, length(first))
    for (i = 1; i <= nstrat; i++) w0 = max(w0, length(strat[i]))
    for (c = 1; c <= ncol; c++) {
        w[c] = max(cwidth[c], max(length(chead1[c]), length(chead2[c])))
        for (i = 1; i <= nstrat; i++) {
            s = strat[i]
            t = cell(s, c, "med")
            if (nruns[s] > 1 && cbetter[c] != "=") t = t " (" cell(s, c, "worst") ")"
            text[i, c] = t
            w[c] = max(w[c], length(t))
        }
    }
    line1 = sprintf("| %-*s |", w0, first)
    line2 = sprintf("| %-*s |", w0, "")
    rule = "|" dashes(w0 + 2) "|"
    for (c = 1; c <= ncol; c++) {
        line1 = line1 sprintf(" %*s |", w[c], chead1[c])
        line2 = line2 sprintf(" %*s |", w[c], chead2[c])
        rule = rule dashes(w[c] + 2) "|"
    }
    print line1; print line2; print rule
    for (i = 1; i <= nstrat; i++) {
        row = sprintf("| %-*s |", w0, strat[i])
        for (c = 1; c <= ncol; c++) row = row sprintf(" %*s |", w[c], text[i, c])
        print row
    }
}
