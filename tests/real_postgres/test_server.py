"""The launcher: binaries found or a one-line reason, a server that runs unprivileged and goes away."""
import os
from pathlib import Path

import pytest

from models.postgres import server as srv


def _query(dsn: str, sql: str) -> str:
    from psycopg import pq
    c = pq.PGconn.connect(dsn.encode())
    try:
        assert c.status == pq.ConnStatus.OK, c.get_error_message()
        r = c.exec_(sql.encode())
        assert r.status == pq.ExecStatus.TUPLES_OK, r.get_error_message()
        return r.get_value(0, 0).decode()
    finally:
        c.finish()


def _owner_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_server_answers_queries(pg_server):
    assert _query(pg_server.dsn, "SELECT 40 + 2") == "42"
    assert _query(pg_server.dsn, "SHOW fsync") in ("off", "on")   # "on" only on a user's own server


@pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged user is only needed as root")
def test_server_runs_unprivileged_as_root(pg_server):
    if pg_server.process is None:
        pytest.skip(f"{srv.DSN_ENV}: a server the user runs")
    assert _owner_uid(pg_server.process.pid) != 0
    assert pg_server.folder.stat().st_uid == _owner_uid(pg_server.process.pid)


def test_stop_removes_the_server_and_its_folder(monkeypatch):
    monkeypatch.delenv(srv.DSN_ENV, raising=False)
    try:
        s = srv.Server.start()
    except srv.ServerUnavailable as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))
    proc, folder = s.process, s.folder
    assert folder.is_dir() and proc.poll() is None
    s.stop()
    assert proc.poll() is not None
    assert not folder.exists()
    s.stop()   # idempotent


def test_bad_binary_folder_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv(srv.BIN_ENV, str(tmp_path))
    with pytest.raises(srv.ServerUnavailable) as e:
        srv.find_binaries()
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)


def test_no_binaries_anywhere_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.delenv(srv.BIN_ENV, raising=False)
    monkeypatch.setattr(srv, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(srv, "DEBIAN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(srv.ServerUnavailable) as e:
        srv.find_binaries()
    assert "'.[postgres]'" in str(e.value) and "\n" not in str(e.value)


def test_debian_picks_the_newest_version(monkeypatch, tmp_path):
    for v in ("9", "15", "13"):
        b = tmp_path / v / "bin"
        b.mkdir(parents=True)
        for exe in ("initdb", "postgres"):
            (b / exe).write_text("#!/bin/sh\n")
            (b / exe).chmod(0o755)
    monkeypatch.delenv(srv.BIN_ENV, raising=False)
    monkeypatch.setattr(srv, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(srv, "DEBIAN_ROOT", tmp_path)
    assert srv.find_binaries().bindir == tmp_path / "15" / "bin"


def test_reachable_follows_permission_bits(tmp_path):
    import pwd
    nobody = pwd.getpwnam("nobody")
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    locked.chmod(0o700)
    try:
        assert not srv._reachable(locked / "inner" / "x", nobody)
    finally:
        locked.chmod(0o755)
    assert srv._reachable(Path("/tmp") / "x", nobody)   # /tmp: everyone traverses it
