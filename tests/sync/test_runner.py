"""BookRunner: requests for one book coalesce into one run at a time, and a request waits
for a run that started after it, at most as long as it said."""

from __future__ import annotations

import threading

from bridge.sync.runner import BookRunner, Job


def test_requests_made_during_a_run_share_the_next_one() -> None:
    release = threading.Event()
    runs: list[Job] = []

    def run(book_id: int, job: Job, since: float) -> None:
        runs.append(job)
        release.wait(10)

    runner = BookRunner(run)
    first = runner.ask(1, Job.PULL)
    assert not runner.wait(1, first, 0.05)  # the run is blocked: the request goes on
    second, third = runner.ask(1, Job.PUSH), runner.ask(1, Job.PULL)
    release.set()
    assert runner.wait(1, third, 10) and runner.wait(1, second, 0)
    assert runs == [Job.PULL, Job.PUSH | Job.PULL]  # two runs for three requests
    runner.close()


def test_a_failing_run_does_not_strand_its_waiters() -> None:
    def run(book_id: int, job: Job, since: float) -> None:
        raise RuntimeError("upstream said no")

    runner = BookRunner(run)
    assert runner.wait(7, runner.ask(7, Job.PUSH), 10)
    assert runner.busy_for(7) == 0.0
    runner.close()


def test_books_run_side_by_side() -> None:
    inside = threading.Barrier(2, timeout=10)

    def run(book_id: int, job: Job, since: float) -> None:
        inside.wait()  # both books' runs are under way at once, or this times out

    runner = BookRunner(run)
    tickets = [(book, runner.ask(book, Job.PULL)) for book in (1, 2)]
    assert all(runner.wait(book, ticket, 10) for book, ticket in tickets)
    runner.close()
