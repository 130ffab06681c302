"""Retention: closed cases and tickets move to an archive table, old delivery logs go."""
