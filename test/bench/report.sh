#!/usr/bin/env bash
# Prints the figures the benchmarks collected in one table (make bench ends with it): each
# figure beside the baseline measured in the same run, their ratio, and the target.
#   report.sh FILE    FILE holds lines: label TAB figure TAB unit TAB baseline label TAB baseline TAB target
set -euo pipefail
file=${1:?usage: report.sh FILE}
[ -s "$file" ] || { echo "(no figures were collected)"; exit 0; }
echo
echo "######## report: figure, baseline from the same run, ratio = figure / baseline, target"
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); on a shared machine the figures are noisy, the ratios less so)"
awk -F'\t' '
    { label[NR] = $1; value[NR] = $2; unit[NR] = $3; base_label[NR] = $4; base[NR] = $5; target[NR] = $6 }
    END {
        printf "%-66s %12s  %-34s %12s %9s  %s\n", "figure", "value", "baseline", "value", "ratio", "target"
        for (i = 1; i <= NR; i++) {
            ratio = (base[i] + 0 != 0) ? sprintf("%.2fx", value[i] / base[i]) : "-"
            printf "%-66s %12s  %-34s %12s %9s  %s\n", label[i], value[i], base_label[i], base[i], ratio, target[i]
        }
    }' "$file"
