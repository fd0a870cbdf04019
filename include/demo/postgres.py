"""A throwaway PostgreSQL server on loopback for Airflow's metadata database (the demo and the
end-to-end tests), from Debian's `postgresql` package (`make postgres` installs it).

SQLite refuses writes while another component writes: with the scheduler, the API server and
the CLI of one Airflow writing at once, a UI backfill can get a 503 after which Airflow deletes
the runs it took over (apache/airflow#68705). A deployment runs Airflow on PostgreSQL; so do
the demo and the tests. One server per process tree, one database per Airflow home.

The cluster lives in a folder of its own (`initdb`: trust authentication, loopback only, no
durability settings, since nothing in it outlives the run); as root, every server command runs
as the `postgres` user the package creates, which owns the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Throwaway data: no fsync, no full-page writes (a crash loses nothing that matters).
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/<major>/bin`)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresError(
        "PostgreSQL is not installed: `make postgres` installs Debian's postgresql package"
        " (or set PULSE_DEMO_AIRFLOW_DB=sqlite for a quick look on SQLite)"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalPostgres:
    """`start()` a server on 127.0.0.1:`port` with its data in `data`; `database(name)` creates
    a database and returns its SQLAlchemy URL; `stop()` ends it."""

    data: Path
    port: int = 0

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(bin_dir() / command[0]), *command[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise PostgresError(
                f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
            )
        return result

    def start(self) -> LocalPostgres:
        if not self.port:
            self.port = free_port()
        self.data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            self.data.chmod(0o700)
            reachable = ["runuser", "-u", "postgres", "--", "test", "-w", str(self.data)]
            if subprocess.run(reachable, check=False).returncode != 0:
                raise PostgresError(
                    f"the postgres user cannot reach {self.data} (a folder on its path is"
                    " private to root): put the server's data elsewhere, e.g. under /tmp"
                )
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} {SERVER_OPTIONS}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.data / "server.log"), "-w", "-t", "120", "start")  # fmt: skip
        return self

    def database(self, name: str) -> str:
        """Create database `name` (a fresh one: an existing one is dropped first) and return its
        SQLAlchemy URL for Airflow (`[database] sql_alchemy_conn`)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise PostgresError(f"not a plain database name: {name!r}")
        for statement in (
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
            f"CREATE DATABASE {name}",
        ):
            self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", statement)  # fmt: skip
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)


def main(argv: list[str] | None = None) -> int:
    """`python -m include.demo.postgres start|stop DATA [PORT]`: the demo's server by hand (to
    reopen the demo's Airflow UI on its metadata)."""
    import argparse

    parser = argparse.ArgumentParser(description=(main.__doc__ or "").splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("data", type=Path)
    parser.add_argument("port", type=int, nargs="?", default=5433)
    args = parser.parse_args(argv)
    server = LocalPostgres(args.data.resolve(), args.port)
    if args.action == "start":
        server.start()
        print(f"PostgreSQL on 127.0.0.1:{server.port} (data {server.data})")
    else:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
