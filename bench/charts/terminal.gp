# terminal.gp: the PNG terminal every chart uses (loaded by the others).
# pngcairo when this gnuplot has it (antialiased), else libgd's png; both
# write a 960x600 PNG to `outfile`, which the caller sets with -e.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 960,600 noenhanced font "sans,10"
} else {
    set terminal png size 960,600 noenhanced
}
set output outfile
set grid
set key top left box opaque
