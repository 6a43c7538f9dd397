# workers.gp: whole-path throughput against worker count.
#
# Called by bench/runner/charts.py as
#   gnuplot -e "datafile='W.dat'; outfile='W.png'; ncols=N; ceiling=C; maxw=W; subtitle='...'" workers.gp
# W.dat: a header line, then "workers msgs_per_s_mode1 [msgs_per_s_mode2]"
# ("?" where a run failed). ceiling is the per-message Hyperscan ceiling on
# one core (msgs/s): drawn flat, and times the worker count as the linear
# ideal, so the distance to both lines is what the daemon costs; 0 when
# the run has no ceiling, and then neither line is drawn.
load dir . "terminal.gp"
set datafile missing "?"
set title "Whole path: messages/s against workers\n" . subtitle
set xlabel "workers"
set ylabel "messages/s"
set xtics 1
set xrange [0.5:maxw + 0.5]
set yrange [0:*]
set format y "%.2s%c"
if (ceiling > 0) {
    plot for [i=2:ncols] datafile using 1:i with linespoints lw 2 pt 7 ps 1.2 title columnhead(i), \
         ceiling with lines dt 2 lw 1.5 lc rgb "#444444" title "ceiling: hs_scan per message, 1 core", \
         ceiling * x with lines dt 3 lw 1.5 lc rgb "#999999" title "ceiling x workers (linear)"
} else {
    # No ceiling measured in this run (scan stage left out or failed).
    plot for [i=2:ncols] datafile using 1:i with linespoints lw 2 pt 7 ps 1.2 title columnhead(i)
}
