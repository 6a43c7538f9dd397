# rules.gp: scan throughput against pattern count, both kinds, log-log.
#
# Called by bench/runner/charts.py as
#   gnuplot -e "datafile='R.dat'; outfile='R.png'; subtitle='...'" rules.gp
# R.dat: a header line, then "rules literal_msgs_per_s regex_msgs_per_s"
# ("?" where a size was not measured). Throughput is sluice-scan-bench's
# ceiling stage (hs_scan per message, one core) on the scale corpus. For the
# literal kind "rules" counts entries of one list rule.
load dir . "terminal.gp"
set datafile missing "?"
set title "Scan throughput against pattern count\n" . subtitle
set xlabel "patterns (list entries for literal, rules for regex)"
set ylabel "messages/s (one core)"
set logscale xy
set format x "%.0s%c"
set format y "%.1s%c"
set key top right
plot datafile using 1:2 with linespoints lw 2 pt 7 ps 1.2 title columnhead(2), \
     datafile using 1:3 with linespoints lw 2 pt 5 ps 1.2 title columnhead(3)
