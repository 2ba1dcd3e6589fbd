"""benchmarks/ is not a package of the collection: its parts import as `parts` from benchmarks/ on sys.path,
as benchmarks/run.py imports them."""

import os
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
