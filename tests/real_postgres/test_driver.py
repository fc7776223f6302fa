"""The statement driver on a real server: finished or blocked on whom, released by COMMIT, deadlocks."""
import pytest

from models.postgres.driver import Blocked, Done, Driver, DriverError


@pytest.fixture
def drv(pg_driver):
    """Sessions A and B, and a table (k, v) of the test's own holding (1, 0) and (2, 0) as `drv.t`."""
    pg_driver.t = pg_driver.fresh("t", "k int PRIMARY KEY, v int NOT NULL", "(1, 0), (2, 0)")
    return pg_driver


def test_second_update_of_a_locked_row_is_blocked_on_its_holder(drv):
    t = drv.t
    assert drv.run("A", "BEGIN").outcome == Done(command="BEGIN")
    assert drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1").outcome.command == "UPDATE 1"
    assert drv.run("B", f"UPDATE {t} SET v = 2 WHERE k = 1").outcome == Blocked(on=("A",))
    assert drv.sessions["B"].busy
    # an unrelated row is not blocked
    assert drv.run("setup", f"UPDATE {t} SET v = 5 WHERE k = 2").outcome.command == "UPDATE 1"
    assert drv.sessions["B"].outcome == Blocked(on=("A",))

    step = drv.run("A", "COMMIT")
    assert step.outcome == Done(command="COMMIT")
    assert step.released == ("B",)
    assert drv.sessions["B"].outcome == Done(command="UPDATE 1")
    assert drv.run("setup", f"SELECT v FROM {t} WHERE k = 1").outcome.rows == (("2",),)


def test_a_guard_is_rechecked_on_the_committed_row_after_the_wait(drv):
    t = drv.t
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1 AND v = 0")
    assert drv.run("B", f"UPDATE {t} SET v = 2 WHERE k = 1 AND v = 0 RETURNING v").outcome == Blocked(on=("A",))
    assert drv.run("A", "COMMIT").released == ("B",)
    assert drv.sessions["B"].outcome == Done(command="UPDATE 0")


def test_rollback_releases_the_waiter_to_the_old_row(drv):
    t = drv.t
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1 AND v = 0")
    drv.run("B", f"UPDATE {t} SET v = 2 WHERE k = 1 AND v = 0 RETURNING v")
    assert drv.run("A", "ROLLBACK").released == ("B",)
    assert drv.sessions["B"].outcome == Done(command="UPDATE 1", rows=(("2",),))


def test_errors_come_back_with_their_sqlstate(drv):
    out = drv.run("A", f"INSERT INTO {drv.t} VALUES (1, 9)").outcome
    assert out.sqlstate == "23505" and not out.ok and "duplicate key" in out.error
    assert drv.run("A", "SELECT 1").outcome.rows == (("1",),)   # autocommit: nothing left aborted


def test_unique_key_inserted_by_an_open_transaction_blocks_the_second_inserter(drv):
    t = drv.t
    drv.run("A", "BEGIN")
    assert drv.run("A", f"INSERT INTO {t} VALUES (3, 0)").outcome.ok
    assert drv.run("B", f"INSERT INTO {t} VALUES (3, 1)").outcome == Blocked(on=("A",))
    drv.run("A", "COMMIT")
    assert drv.sessions["B"].outcome.sqlstate == "23505"


def test_a_wait_cycle_is_reported_as_a_deadlock_and_cancel_breaks_it(drv):
    t = drv.t
    for s in ("A", "B"):
        drv.run(s, "BEGIN")
    drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1")
    drv.run("B", f"UPDATE {t} SET v = 1 WHERE k = 2")
    assert drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 2").outcome == Blocked(on=("B",))
    assert drv.run("B", f"UPDATE {t} SET v = 1 WHERE k = 1").outcome == Blocked(on=("A",), deadlock=True)
    assert drv.sessions["A"].outcome == Blocked(on=("B",), deadlock=True)
    step = drv.cancel("B")
    assert step.outcome.sqlstate == "57014"       # query_canceled; B's transaction is aborted
    assert step.released == ("A",) and drv.sessions["A"].outcome.command == "UPDATE 1"
    assert step.raced == ()      # A alone waited on B


def test_a_busy_session_takes_no_second_statement(drv):
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {drv.t} SET v = 1 WHERE k = 1")
    drv.run("B", f"UPDATE {drv.t} SET v = 2 WHERE k = 1")
    with pytest.raises(DriverError, match="still waiting"):
        drv.run("B", "SELECT 1")


def test_a_statement_that_neither_finishes_nor_waits_for_a_lock_is_an_error(pg_server):
    with Driver(pg_server.dsn, timeout=0.2) as d:
        d.session("A")
        with pytest.raises(DriverError, match="neither finished nor waited"):
            d.run("A", "SELECT pg_sleep(30)")
        assert d.cancel("A").outcome.sqlstate == "57014"


def test_a_bad_dsn_is_one_line():
    with pytest.raises(DriverError) as e:
        Driver("host=/nonexistent-folder port=1 user=x dbname=x")
    assert "cannot connect" in str(e.value) and "\n" not in str(e.value)


def test_a_commit_that_wakes_two_waiters_is_reported_as_raced(pg_driver):
    t = pg_driver.fresh("t", "k int PRIMARY KEY, v text NOT NULL", "(1, '')")
    pg_driver.run("A", "BEGIN")
    pg_driver.run("A", f"UPDATE {t} SET v = v || 'A' WHERE k = 1")
    assert pg_driver.run("B", f"UPDATE {t} SET v = v || 'B' WHERE k = 1").outcome == Blocked(on=("A",))
    # C queues behind B, which holds the row's tuple lock while it waits for A
    assert pg_driver.run("C", f"UPDATE {t} SET v = v || 'C' WHERE k = 1").outcome.on in (("A",), ("B",), ("A", "B"))
    step = pg_driver.run("A", "COMMIT")
    assert step.released == ("B", "C") and step.raced == ("B", "C")
    # which of B and C went first was PostgreSQL's choice
    assert pg_driver.run("setup", f"SELECT v FROM {t}").outcome.rows in ((("ABC",),), (("ACB",),))


def test_a_commit_that_wakes_one_waiter_is_not_raced(drv):
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {drv.t} SET v = 1 WHERE k = 1")
    drv.run("B", f"UPDATE {drv.t} SET v = 2 WHERE k = 1")
    step = drv.run("A", "COMMIT")
    assert step.released == ("B",) and step.raced == ()


def test_a_killed_session_rolls_back_and_releases_its_waiter(drv):
    t = drv.t
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1")
    drv.run("A", f"INSERT INTO {t} VALUES (3, 1)")
    drv.run("B", f"UPDATE {t} SET v = v + 10 WHERE k = 1")
    step = drv.kill("A")
    assert step.released == ("B",) and "A" not in drv.sessions
    assert drv.sessions["B"].outcome == Done(command="UPDATE 1")
    assert drv.run("setup", f"SELECT k, v FROM {t} ORDER BY k").outcome.rows == (("1", "10"), ("2", "0"))


def test_killing_a_session_blocked_mid_statement_frees_nobody_else(drv):
    t = drv.t
    drv.run("A", "BEGIN")
    drv.run("A", f"UPDATE {t} SET v = 1 WHERE k = 1")
    drv.run("B", f"UPDATE {t} SET v = 2 WHERE k = 1")
    step = drv.kill("B")
    assert step.released == () and drv.run("A", "COMMIT").outcome.ok
