"""All SQL of the exports domain (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

from qrefund.platform.exports.models import Export
from qrefund.platform.repository import TenantRepository


class ExportRepository(TenantRepository[Export]):
    model = Export
