"""Fixtures for import tests: the export tests' job runtime (real RQ workers on the
test database and Redis)."""

from tests.exports.conftest import workers

__all__ = ["workers"]
