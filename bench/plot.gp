# plot.gp - the plots of docs/benchmarks.md, from summarize.py's .dat files.
# Run in a scripts/bench result directory:  gnuplot /path/to/bench/plot.gp
# Writes bench-latency.png (search latency percentiles, 1 caller) and
# bench-throughput.png (search QPS at 1 and 16 callers, batch inserts):
# vsetd against direct fan-out, 2 shards against 1.
set terminal pngcairo size 900,520 font "sans,10" noenhanced
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics nomirror

set output "bench-latency.png"
set title "Search latency, 1 closed-loop caller, Fashion-MNIST, K 10 (median of runs)"
set ylabel "ms"
set autoscale y
stats "latency.dat" using 5 nooutput
set yrange [0:STATS_max * 1.25]
plot "latency.dat" using 2:xtic(1) title "p50", \
     "" using 3 title "p90", \
     "" using 4 title "p99", \
     "" using 5 title "p99.9"

set output "bench-throughput.png"
set multiplot layout 1,2 title "Throughput, Fashion-MNIST (median of runs)"
# Headroom above the tallest bar for the key.
set autoscale y
stats "qps.dat" using 3 nooutput
qmax = STATS_max
set autoscale y
stats "qps.dat" using 2 nooutput
qmax = (STATS_max > qmax ? STATS_max : qmax)
set yrange [0:qmax * 1.25]
set title "Searches/s (K 10)"
set ylabel "requests/s"
set xtics rotate by -20
plot "qps.dat" using 2:xtic(1) title "1 caller", \
     "" using 3 title "16 callers"
set autoscale y
stats "insert.dat" using 2 nooutput
imax = STATS_max
set autoscale y
stats "insert.dat" using 3 nooutput
imax = (STATS_max > imax ? STATS_max : imax)
set yrange [0:imax * 1.3]
set title "Batch insert, 20,000 rows"
set ylabel "items/s"
plot "insert.dat" using 2:xtic(1) title "vsetd", \
     "" using 3 title "direct pipelined VADD"
unset multiplot
