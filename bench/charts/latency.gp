# latency.gp: distribution of per-message RX-to-TX latency, one curve per rate.
#
# Called by bench/runner/charts.py as
#   gnuplot -e "n=2; file1='a.txt'; title1='50% of max'; file2=...; outfile='L.png'; subtitle='...'" latency.gp
# Each file: "latency_us cumulative_fraction" per line, as sluice-latency-bench
# --histogram-out writes it (one sample per packet). One variable per curve (read back with value()),
# so names and titles may hold spaces. Log x: the tail is what matters.
load dir . "terminal.gp"
set title "Latency, RX to TX: cumulative distribution\n" . subtitle
set xlabel "latency (microseconds, log scale)"
set ylabel "fraction of messages at or below"
set logscale x
set yrange [0:1.02]
set ytics 0.1
set key bottom right
set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 3 lc rgb "#999999"
set label "p99" at graph 0.01, first 0.985 left font ",8"
plot for [i=1:n] value(sprintf("file%d", i)) using 1:2 with steps lw 2 \
     title value(sprintf("title%d", i))
