"""Imports of transaction files (CSV or JSONL): streamed, row by row, idempotent per
merchant order number, with a per-row error report."""
