"""graphql-http's GraphQL-over-HTTP audit (the reference implementation's own checks)
against a real server: no error and no warning.

"notice" results are MAY items that the audit itself contradicts: for the legacy
``application/json`` type it asks that request errors be 200 (a SHOULD, which we
do) and notes that they MAY be 400.

The npm package is installed by ``scripts/test`` into ``.venv/node`` when Node.js is
on the machine; without Node.js the test is skipped with that reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from qrefund.platform.config import Settings
from tests.support.server import running_server
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".venv" / "node" / "node_modules"
SCRIPT = Path(__file__).with_name("audit.mjs")


def test_graphql_over_http_audit_passes_without_warnings(
    settings: Settings, world: World
) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "graphql-http").is_dir():
        pytest.skip("Node.js and graphql-http are needed (scripts/test installs the package)")
    with running_server(settings) as base:
        done = subprocess.run(
            [node, str(SCRIPT), f"{base}/graphql", world.key("a", "VIEWER"), str(NODE_MODULES)],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) > 50, done.stdout
    failed = [f"{r['id']} {r['status']}: {r['name']} ({r['reason']})"
              for r in results if r["status"] not in ("ok", "notice")]
    assert not failed, "\n".join(failed)
    notices = [r for r in results if r["status"] == "notice"]
    assert all(r["name"].startswith("MAY") for r in notices), notices
