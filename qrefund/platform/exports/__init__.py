"""Exports: refund cases and transactions of a period, streamed to a file by a job and
delivered by a signed, expiring link (see :mod:`qrefund.platform.exports.service`)."""
