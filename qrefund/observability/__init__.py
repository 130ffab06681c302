"""Observability: structured logs, request ids, metrics and tracing.

The lowest layer: every other package may record into it; it imports none of them.
What needs the job queues or the database at scrape time lives in
:mod:`qrefund.jobs.monitoring`.
"""
