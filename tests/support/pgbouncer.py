"""A real PgBouncer (Debian's package) in transaction mode in front of the test database.

``scripts/test`` installs it when missing on a root Debian-like machine; elsewhere the
tests that need it are skipped with a message.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.server import free_port

BINARY = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer"
                                       if os.path.exists("/usr/sbin/pgbouncer") else None)
MISSING = "pgbouncer is not installed (apt-get install pgbouncer; scripts/test does it as root)"


@contextmanager
def running_pgbouncer(database_url: str, *, pool_size: int = 2) -> Iterator[str]:
    """Start PgBouncer (transaction mode, ``pool_size`` server connections) on a free
    loopback port; yield the database URL that goes through it."""
    assert BINARY is not None, MISSING
    url = make_url(database_url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="qrefund-pgbouncer-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o777)  # PgBouncer refuses to run as root: it drops to `postgres`
        (folder / "users.txt").write_text(f'"{url.username}" ""\n')
        ini = folder / "pgbouncer.ini"
        ini.write_text(f"""[databases]
{url.database} = host={url.host} port={url.port or 5432} dbname={url.database} user={url.username}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / 'users.txt'}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {folder / 'pgbouncer.log'}
ignore_startup_parameters = extra_float_digits,options
""")
        for path in folder.iterdir():
            path.chmod(0o666)
        command = [BINARY, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, process)
            yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"pgbouncer exited: {out}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")
