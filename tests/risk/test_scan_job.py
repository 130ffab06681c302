"""The periodic scan: registered with the scheduler, one job per active merchant."""

from __future__ import annotations

from rq import Queue

from qrefund.jobs.registry import PERIODIC, QUEUE_MAINTENANCE
from qrefund.jobs.risk import risk_scan
from tests.risk.helpers import pay


async def test_the_scan_is_a_periodic_job():
    import qrefund.jobs.risk  # noqa: F401  (registers on import, as the scheduler loads it)

    [job] = [p for p in PERIODIC if p.name == "risk-scan"]
    assert (job.queue, job.interval) == (QUEUE_MAINTENANCE, "risk_scan_seconds")


async def test_the_scan_enqueues_one_job_per_active_merchant(db, world, job_runtime,
                                                              redis_conn):
    await pay(db, world, "a")
    await pay(db, world, "b")
    result = await risk_scan()
    assert result == {"merchants": 2, "enqueued": 2}
    queue = Queue(QUEUE_MAINTENANCE, connection=redis_conn)
    assert sorted(queue.job_ids) == sorted([f"risk-scan-{world.merchant_a}",
                                            f"risk-scan-{world.merchant_b}"])
    # A second sweep while those wait enqueues nothing more
    assert (await risk_scan())["enqueued"] == 0
