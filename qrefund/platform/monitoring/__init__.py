"""Operational figures read at metrics scrape time: deadlines at risk, outbox lag."""
