"""service/gcstats.py's collector hook against prometheus_client's multiprocess lock, as BentoML's worker runs it.

A collection can start inside prometheus_client while it holds its non-reentrant lock (creating a
label set: json.dumps of the key allocates). A hook that observed there waited for that lock for
ever. A subprocess, because the multiprocess mode is chosen when prometheus_client is imported and
a hang must end in a timeout, not take the test run with it.
"""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT

SCRIPT = """
import gc, os, sys, tempfile
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()  # BentoML's worker sets it before any metric
import prometheus_client
from service import gcstats
metrics = gcstats.install_metrics()
gc.set_threshold(1)  # a collection at almost every allocation: some start while prometheus_client holds its lock
labelled = prometheus_client.Counter("labelled_total", "label sets created one after another", ["n"])
for n in range(300):
    labelled.labels(n=str(n)).inc()
gc.set_threshold(700)
metrics.flush()
print(sum(s.value for s in metrics.pauses.collect()[0].samples if s.name.endswith("_count")))
"""


def test_a_collection_inside_prometheus_client_does_not_hang_the_worker():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-1]) >= 300  # every queued collection reached the histogram
