"""The codes of the tenants domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class TenantError(ErrorCode):
    SLUG_TAKEN = "SLUG_TAKEN", "Another tenant already has this slug."
    NOT_AN_AGENCY = "NOT_AN_AGENCY", "The tenant named as agencyId is not an agency."
    KEY_MERCHANTS_AGENCY_ONLY = "KEY_MERCHANTS_AGENCY_ONLY", ("Only an agency's keys can be "
                                                              "restricted to some merchants.")
