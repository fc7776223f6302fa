"""`python -m sim_bench [...]`: the same as `python -m sim bench [...]`."""
import sys

from sim_bench.bench import main

raise SystemExit(main(sys.argv[1:]))
