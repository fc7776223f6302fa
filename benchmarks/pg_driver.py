"""How fast the real-server path is: server start, and statements per second through the driver.

    python benchmarks/pg_driver.py [--statements N]

Prints the server's origin and start time, then statements/s for autocommit UPDATEs, for
BEGIN/UPDATE/COMMIT transactions, and for a block-and-release cycle (an UPDATE that waits
for a lock, and the COMMIT that releases it), each the best of 3.
"""
from __future__ import annotations

import argparse
import sys
import time

from models.postgres.driver import Driver
from models.postgres.server import Server, ServerUnavailable


def _rate(fn, statements: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return statements / best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--statements", type=int, default=600)
    n = ap.parse_args(argv).statements
    try:
        server = Server.start()
    except ServerUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with server, Driver(server.dsn) as d:
        print(f"server: PostgreSQL {server.version} from {server.origin}, started in {server.start_seconds:.2f} s")
        a, b = d.session("A"), d.session("B")
        for sql in ("CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL)", "INSERT INTO t VALUES (1, 0)"):
            d.run(a, sql)

        def autocommit():
            for _ in range(n):
                d.run(a, "UPDATE t SET v = v + 1 WHERE k = 1")

        def transactions():
            for _ in range(n // 3):
                for sql in ("BEGIN", "UPDATE t SET v = v + 1 WHERE k = 1", "COMMIT"):
                    d.run(a, sql)

        def block_release():
            for _ in range(n // 4):
                for s, sql in ((a, "BEGIN"), (a, "UPDATE t SET v = v + 1 WHERE k = 1"),
                               (b, "UPDATE t SET v = v + 1 WHERE k = 1"), (a, "COMMIT")):
                    d.run(s, sql)
        print(f"autocommit UPDATE:          {_rate(autocommit, n):8.0f} statements/s")
        print(f"BEGIN/UPDATE/COMMIT:        {_rate(transactions, n // 3 * 3):8.0f} statements/s")
        print(f"block and release (4 stmt): {_rate(block_release, n // 4 * 4):8.0f} statements/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
