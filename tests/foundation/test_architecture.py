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


# -- the tenancy wall -------------------------------------------------------------------------

# Modules that may hold SQL: the repository base, the unit of work, each domain's repository.
# json_render builds column expressions (JSON of a row), never a statement; statements
# compiles a repository's own scoped statements to text once per shape, or keeps them;
# sql_parts holds pieces of statements (keyset bounds, key lists, inserts) repositories
# share, scope-less: the repository using one scopes it.
SQL_MODULES = {"platform/db.py", "platform/repository.py", "platform/json_render.py",
               "platform/statements.py", "platform/sql_parts.py", "platform/row_writes.py",
               "platform/driver.py"}
# What builds or runs SQL outside them: statement builders and the session.
_BUILDERS = {"select", "update", "delete", "insert", "text", "tuple_", "func", "and_", "or_",
             "case", "bindparam", "col", "scoped", "in_keys"}
_PRIVATE = {"session", "_session", "_execute", "_add", "require_tenant"}
# Every deliberate read beyond the caller's scope, and where it is.
BEYOND_SCOPE = {
    "platform/policies/repository.py": 2,  # an agency template; a case's judged version
    "tenants/repository.py": 1,  # an agency key's scope: its merchants
    # A merchant's own links on its parent agency's service-provider accounts, and those
    # accounts: the parent recorded on the merchant only (on PostgreSQL through the
    # functions of migration 0017, which narrow RLS to that parent for one query).
    "platform/channels/repository.py": 2,
    # One contact's cases at the merchants of the checked merchant's agency (the periodic
    # anomaly scan; bounded by that agency and one fingerprint).
    "platform/risk/repository.py": 1,
}


def _sql_allowed(relative: str) -> bool:
    return (relative in SQL_MODULES or relative.endswith(("/repository.py", "/models.py"))
            or relative.startswith("migrations/"))


def _modules() -> list[tuple[str, ast.AST]]:
    return [(p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text()))
            for p in sorted(PACKAGE.rglob("*.py"))]


def _offences(relative: str, tree: ast.AST) -> list[str]:
    """Statement builders imported, or the session (or the scope-less helpers) used."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _PRIVATE:
            found.append(f"{relative}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("sqlalchemy", "sqlmodel", "qrefund.platform.repository")):
            names = {a.name for a in node.names} & _BUILDERS
            found += [f"{relative}:{node.lineno} imports {n}" for n in sorted(names)]
    return found


def test_sql_lives_only_in_repositories() -> None:
    # Given every module of the package but the repositories, models and the unit of work
    offenders = [offence for relative, tree in _modules() if not _sql_allowed(relative)
                 for offence in _offences(relative, tree)]
    # Then none builds a statement or touches the session: tables are reached through
    # repositories, in the domain that owns them
    assert offenders == []


def test_the_sql_check_catches_a_service_written_the_old_way() -> None:
    old_way = ast.parse(
        "from sqlalchemy import select\n"
        "from sqlmodel import col\n"
        "async def get(uow, t, i):\n"
        "    uow.scope.require_tenant(t)\n"
        "    return await uow.session.execute(select(X).where(col(X.id) == i))\n")
    assert sorted(_offences("platform/x/service.py", old_way)) == [
        "platform/x/service.py:1 imports select", "platform/x/service.py:2 imports col",
        "platform/x/service.py:4 .require_tenant", "platform/x/service.py:5 .session"]


def test_reads_beyond_the_scope_are_few_and_known() -> None:
    found: dict[str, int] = {}
    for relative, tree in _modules():
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr == "beyond_scope"]
        if calls and relative != "platform/repository.py":
            found[relative] = len(calls)
    assert found == BEYOND_SCOPE


def test_every_node_type_has_a_resolver() -> None:
    from graphql import GraphQLObjectType

    from qrefund.graphql_schema.node import RESOLVERS
    from qrefund.graphql_schema.schema import default_schema

    schema = default_schema()._schema
    node_types = {name for name, kind in schema.type_map.items()
                  if isinstance(kind, GraphQLObjectType)
                  and any(i.name == "Node" for i in kind.interfaces)}
    assert node_types == set(RESOLVERS)
