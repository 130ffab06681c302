"""Several processes, one scrape: PROMETHEUS_MULTIPROC_DIR adds their metrics up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.observability.scrape import parse, value

RECORD = """
import os
from qrefund.observability import metrics
metrics.observe_job("payouts", "qrefund.jobs.payouts.run_payout", True, 0.2)
metrics.observe_request("Who", "ok", 0.01, 3, 0.002)
metrics.SUBSCRIPTIONS.inc()
print(os.getpid())
"""
RENDER = """
import sys
from prometheus_client import generate_latest
from qrefund.jobs.monitoring import recorded_registry
sys.stdout.write(generate_latest(recorded_registry()).decode())
"""


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


def test_three_processes_recording_are_summed_at_scrape(tmp_path: Path) -> None:
    # Given three processes (API workers, work horses) that recorded and exited
    pids = [int(_run(RECORD, tmp_path)) for _ in range(3)]
    # When a fourth renders the metrics
    samples = parse(_run(RENDER, tmp_path))
    # Then counters and histograms are the sums over all of them
    assert value(samples, "qrefund_jobs_total", queue="payouts",
                 function="qrefund.jobs.payouts.run_payout", outcome="succeeded") == 3
    assert value(samples, "qrefund_request_sql_statements_sum", operation="Who") == 9
    assert value(samples, "qrefund_request_duration_seconds_count", operation="Who") == 3
    assert value(samples, "qrefund_subscriptions_open") == 3
    # and a process that says it exited (the API's shutdown does) leaves the live gauge
    _run(f"from qrefund.observability import metrics; metrics.process_exited({pids[0]})",
         tmp_path)
    assert value(parse(_run(RENDER, tmp_path)), "qrefund_subscriptions_open") == 2
