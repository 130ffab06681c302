"""Rules that hold for the whole code base (docs/architecture.md)."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

import qrefund
from qrefund.platform.roles import Role
from qrefund.platform.scope import TenantKind, TenantScope

PACKAGE = Path(qrefund.__file__).parent
ISSUERS = {"tenants/auth.py", "jobs/runtime.py", "platform/scope.py"}


def test_only_the_auth_layer_and_the_job_runtime_issue_scopes() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Attribute) and node.attr == "_issue":
                names = ["_issue"]
            if "_issue" in names and relative not in ISSUERS:
                offenders.append(relative)
    assert not offenders, f"scopes are issued only by {sorted(ISSUERS)}: {offenders}"


def test_a_scope_cannot_be_made_by_hand() -> None:
    with pytest.raises(RuntimeError):
        TenantScope(
            tenant_ids=None,
            actor_tenant_id=uuid.uuid4(),
            actor_kind=TenantKind.OPERATOR,
            role=Role.ADMIN,
            actor="forged",
        )
