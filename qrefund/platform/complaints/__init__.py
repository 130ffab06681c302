"""Complaint tickets: a support desk for refund disputes (docs/architecture.md)."""
