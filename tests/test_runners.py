"""The runners: the same tasks serially, in threads, in processes and in sub-interpreters,
with honest timelines; exceptions come back as ``WorkerError`` with the worker's traceback;
bad arguments are refused up front; nothing is left running.

No test asserts how long anything took (the machine is shared and noisy): only orderings
(start ≤ end, the phase encloses its tasks), identities (pids, thread ids) and results.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_gil.gilstate import build_is_free_threaded, gil_enabled
from pytest_gil.runtimes import ThreadRunner, Timeline, WorkerError, run_tasks
from pytest_gil.vocabulary import RUNNER_KINDS
from pytest_gil.workloads import calc, calc_i, worker

ExecutorFactory = Callable[..., Any]


def fail_with(message: str) -> None:
    """A module-level task that raises (importable by process workers)."""
    raise LookupError(message)


def whoami() -> int:
    return threading.get_ident()


def keywords(*, workers: int, tasks: int, executor: str) -> tuple[int, int, str]:
    """A task whose own keywords have the names of run_tasks' keywords."""
    return workers, tasks, executor


def positional(workers: int, tasks: int, executor: str) -> tuple[int, int, str]:
    """The same, taking them positionally."""
    return workers, tasks, executor


@pytest.fixture(autouse=True)
def _no_thread_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    if "process_pool" in request.fixturenames:
        return  # the session's pool keeps its management threads until the end of the run
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [t for t in threading.enumerate() if t.ident not in before]
        if not left:
            return
        time.sleep(0.01)
    pytest.fail(f"threads left running: {[t.name for t in left]}")


def assert_well_formed(timeline: Timeline, tasks: int) -> None:
    assert sorted(r.index for r in timeline.tasks) == list(range(tasks))
    for r in timeline.tasks:
        assert r.start <= r.end
        assert r.cpu >= 0
        assert timeline.start <= r.start and r.end <= timeline.end
    assert timeline.wall == timeline.end - timeline.start >= 0
    assert timeline.cpu >= 0
    # The tasks of these tests import no extension module, so no phase can change the GIL.
    assert not timeline.gil_changed
    if build_is_free_threaded():
        assert timeline.gil_enabled_before is gil_enabled()  # as the session left it
    else:
        assert timeline.gil_enabled_before is True
    record = timeline.to_dict()
    assert json.loads(json.dumps(record)) == record
    assert all("result" not in t for t in record["tasks"])
    assert len(record["tasks"]) == tasks


# --------------------------------------------------------------------------------------------
# serial


def test_serial_runs_the_tasks_one_after_another_in_this_thread() -> None:
    timeline = run_tasks("serial", calc, 2000, tasks=3)
    assert timeline.kind == "serial" and timeline.workers == 1
    assert timeline.results == [2000, 2000, 2000]
    assert_well_formed(timeline, 3)
    records = sorted(timeline.tasks, key=lambda r: r.index)
    assert all(a.end <= b.start for a, b in itertools.pairwise(records))
    assert {(r.pid, r.thread_id, r.interpreter_id) for r in records} == {
        (os.getpid(), threading.get_ident(), 0)
    }


def test_serial_passes_keyword_arguments() -> None:
    timeline = run_tasks("serial", worker, kwargs={"t": 0}, tasks=2)
    assert timeline.results == [1000, 1000]


# --------------------------------------------------------------------------------------------
# threads


def test_threads_run_each_task_on_its_own_thread_released_together() -> None:
    # The tasks meet at a barrier: they can only finish if all three run at once.
    meet = threading.Barrier(3)
    timeline = run_tasks("thread", meet.wait, 30, tasks=3, workers=3)
    assert timeline.kind == "thread" and timeline.workers == 3
    assert sorted(timeline.results) == [0, 1, 2]
    assert_well_formed(timeline, 3)
    threads = {r.thread_id for r in timeline.tasks}
    assert len(threads) == 3 and threading.get_ident() not in threads
    assert {r.pid for r in timeline.tasks} == {os.getpid()}
    # one task per thread: the skew is the spread of all the starts
    starts = [r.start for r in timeline.tasks]
    assert timeline.start_skew == max(starts) - min(starts)


def test_threads_share_more_tasks_than_workers() -> None:
    timeline = run_tasks("thread", calc, args=(1000,), tasks=7, workers=2)
    assert timeline.results == [1000] * 7
    assert_well_formed(timeline, 7)
    assert len({r.thread_id for r in timeline.tasks}) <= 2


def test_thread_runner_runs_a_list_of_callables_in_order_of_the_list() -> None:
    with ThreadRunner() as runner:
        timeline = runner.run([lambda: "a", lambda: "b", lambda: "c"])
    assert timeline.workers == 3
    assert timeline.results == ["a", "b", "c"]


def test_thread_runner_refuses_a_task_count_that_does_not_match_the_callables() -> None:
    with ThreadRunner() as runner, pytest.raises(ValueError, match="tasks=2 but 3 callables"):
        runner.run([calc, calc, calc], 10, tasks=2)


def test_the_thread_runner_fixture_runs_lambdas(thread_runner: ThreadRunner) -> None:
    timeline = thread_runner.run(lambda n: n * 2, 21, workers=2)
    assert timeline.results == [42, 42]


def test_thread_runner_close_reports_threads_it_could_not_stop() -> None:
    release = threading.Event()
    runner = ThreadRunner(join_timeout=0.05)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            runner.run(release.wait, 60, workers=2)
        except BaseException as exc:  # the run was stopped under its feet
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(
            t.name.startswith("pytest-gil") for t in threading.enumerate()
        ) < 2:
            time.sleep(0.005)
        time.sleep(0.05)  # let them pass the barrier and block in the C-level wait
        alive = runner.close()
        assert alive and all(t.name.startswith("pytest-gil") for t in alive)
    finally:
        release.set()
        caller.join(10)
        for t in threading.enumerate():
            if t.name.startswith("pytest-gil"):
                t.join(10)


# --------------------------------------------------------------------------------------------
# processes


def test_processes_run_on_distinct_workers_of_the_pool(executor_factory: ExecutorFactory) -> None:
    pool = executor_factory("process", max_workers=2)
    # Each task sleeps, so the second one cannot wait for the first worker to be free.
    timeline = run_tasks("process", worker, 0.2, tasks=2, workers=2, executor=pool)
    assert timeline.kind == "process" and timeline.workers == 2
    assert timeline.results == [1000.2, 1000.2]
    assert_well_formed(timeline, 2)  # perf_counter is system-wide: the phase encloses them
    pids = {r.pid for r in timeline.tasks}
    assert len(pids) == 2 and os.getpid() not in pids


def test_processes_on_the_session_pool(process_pool: Any) -> None:
    timeline = run_tasks("process", calc, 5000, tasks=4, workers=1, executor=process_pool)
    assert timeline.results == [5000] * 4
    assert_well_formed(timeline, 4)
    assert {r.pid for r in timeline.tasks} <= set(process_pool.pids)


def test_process_tasks_pass_keyword_arguments(executor_factory: ExecutorFactory) -> None:
    pool = executor_factory("process", max_workers=1)
    timeline = run_tasks("process", worker, kwargs={"t": 0}, tasks=1, executor=pool)
    assert timeline.results == [1000]


def test_processes_need_an_executor() -> None:
    with pytest.raises(ValueError, match=r"run_tasks\('process'\) needs a warm executor"):
        run_tasks("process", calc, 10, tasks=1)


def test_processes_refuse_more_workers_than_the_pool_has(
    executor_factory: ExecutorFactory,
) -> None:
    pool = executor_factory("process", max_workers=1)
    with pytest.raises(ValueError, match="has 1 workers; 2 were asked for"):
        run_tasks("process", calc, 10, tasks=2, workers=2, executor=pool)


@pytest.mark.parametrize(
    "fn",
    [lambda n: n, "local"],
    ids=["lambda", "local-function"],
)
def test_a_lambda_or_local_function_cannot_go_to_a_process(
    executor_factory: ExecutorFactory, fn: Any
) -> None:
    if fn == "local":
        def fn(n: int) -> int:
            return n

    pool = executor_factory("process", max_workers=1)
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        run_tasks("process", fn, 1, tasks=1, executor=pool)


def test_an_unpicklable_argument_cannot_go_to_a_process(
    executor_factory: ExecutorFactory,
) -> None:
    pool = executor_factory("process", max_workers=1)
    with pytest.raises(TypeError, match="module-level function with picklable arguments"):
        run_tasks("process", worker, threading.Lock(), tasks=1, executor=pool)


# --------------------------------------------------------------------------------------------
# sub-interpreters (where they exist; the fixture skips with a reason elsewhere)


def test_interpreters_run_in_distinct_subinterpreters_of_this_process(
    executor_factory: ExecutorFactory,
) -> None:
    pool = executor_factory("interpreter", max_workers=2)
    timeline = run_tasks("interpreter", worker, 0.2, tasks=2, workers=2, executor=pool)
    assert timeline.results == [1000.2, 1000.2]
    assert_well_formed(timeline, 2)
    assert {r.pid for r in timeline.tasks} == {os.getpid()}
    interpreters = {r.interpreter_id for r in timeline.tasks}
    assert len(interpreters) == 2 and 0 not in interpreters


# --------------------------------------------------------------------------------------------
# exceptions


@pytest.mark.parametrize("kind", ["serial", "thread", "process", "interpreter"])
def test_an_exception_in_a_worker_comes_back_as_worker_error_with_its_traceback(
    executor_factory: ExecutorFactory, kind: str
) -> None:
    pool = executor_factory(kind, max_workers=2) if kind in ("process", "interpreter") else None
    with pytest.raises(WorkerError) as info:
        run_tasks(kind, fail_with, "bad input 42", tasks=2, workers=2 if pool else 1,
                  executor=pool)
    err = info.value
    assert isinstance(err, RuntimeError)
    worker_noun = {"serial": "a serial", "thread": "a thread", "process": "a process",
                   "interpreter": "an interpreter"}[kind]
    assert str(err).startswith(
        f"task 0 raised in {worker_noun} worker: LookupError: bad input 42"
    )
    # A worker of another process or interpreter sends its traceback as text, shown in the
    # message; in this process the cause carries its own frames, and the message does not.
    remote = kind in ("process", "interpreter")
    assert err.traceback_in_message is remote
    assert ("Worker traceback:" in str(err)) is remote
    assert "fail_with" in err.remote_traceback
    assert "bad input 42" in err.remote_traceback
    assert isinstance(err.__cause__, LookupError)


def test_the_first_failing_task_is_the_one_reported() -> None:
    with ThreadRunner() as runner, pytest.raises(WorkerError, match="task 1 raised"):
        runner.run([lambda: None, lambda: fail_with("second"), lambda: fail_with("third")])


def test_a_process_pool_works_after_a_task_raised(executor_factory: ExecutorFactory) -> None:
    pool = executor_factory("process", max_workers=1)
    with pytest.raises(WorkerError):
        run_tasks("process", fail_with, "once", tasks=1, executor=pool)
    assert run_tasks("process", calc, 10, tasks=1, executor=pool).results == [10]


# --------------------------------------------------------------------------------------------
# the function's arguments: positionally, args=/kwargs=, task_args=


def _pool_for(kind: str, executor_factory: ExecutorFactory, workers: int) -> Any:
    """An executor for the pool kinds (skipped where the kind does not exist), else None."""
    if kind in ("process", "interpreter"):
        return executor_factory(kind, max_workers=workers)
    return None


@pytest.mark.parametrize("kind", RUNNER_KINDS)
def test_task_args_give_each_task_its_own_arguments(
    executor_factory: ExecutorFactory, kind: str
) -> None:
    pool = _pool_for(kind, executor_factory, 2)
    workers = 1 if kind == "serial" else 2
    task_args = [(i, 100 * (i + 1)) for i in range(5)]
    timeline = run_tasks(kind, calc_i, task_args=task_args, workers=workers, executor=pool)
    assert_well_formed(timeline, 5)  # tasks defaults to the number of task_args
    # each record holds the result of its own task's arguments, and results are in task order
    assert {r.index: r.result for r in timeline.tasks} == {
        i: (i, 100 * (i + 1)) for i in range(5)
    }
    assert timeline.results == [(i, 100 * (i + 1)) for i in range(5)]


@pytest.mark.parametrize("kind", ["serial", "thread", "process"])
def test_a_functions_own_workers_tasks_and_executor_arguments_reach_it(
    executor_factory: ExecutorFactory, kind: str
) -> None:
    pool = _pool_for(kind, executor_factory, 2)
    workers = 1 if kind == "serial" else 2
    mine = {"workers": 7, "tasks": 8, "executor": "the function's"}
    timeline = run_tasks(kind, keywords, kwargs=mine, tasks=3, workers=workers, executor=pool)
    assert timeline.results == [(7, 8, "the function's")] * 3
    assert timeline.workers == workers and len(timeline.tasks) == 3
    timeline = run_tasks(kind, positional, args=(5, 6, "args"), tasks=2, workers=workers,
                         executor=pool)
    assert timeline.results == [(5, 6, "args")] * 2
    # positionally after fn, the same
    timeline = run_tasks(kind, positional, 5, 6, "positional", workers=workers, executor=pool)
    assert timeline.results == [(5, 6, "positional")] * workers


def test_threads_run_on_a_given_thread_pool(executor_factory: ExecutorFactory) -> None:
    pool = executor_factory("thread", max_workers=2)
    timeline = run_tasks("thread", whoami, tasks=4, workers=2, executor=pool)
    assert_well_formed(timeline, 4)
    pool_threads = {t.ident for t in pool._threads}
    assert set(timeline.results) <= pool_threads
    assert {r.thread_id for r in timeline.tasks} == set(timeline.results)
    assert threading.get_ident() not in pool_threads


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (dict(fn_args=(10,), args=(10,)), TypeError, "positionally or as args=.*not both"),
        (dict(args=(10,), task_args=[(1,)]), TypeError, "task_args gives every task its own"),
        (dict(fn_args=(10,), task_args=[(1,)]), TypeError, "task_args gives every task its own"),
        (dict(task_args=[(1,), (2,)], tasks=3), ValueError, "tasks=3 but task_args has 2"),
        (dict(task_args=[(1,), (2,)], tasks=1), ValueError, "tasks=1 but task_args has 2"),
        (dict(task_args=[]), ValueError, "task_args is empty"),
    ],
    ids=["positional-and-args", "args-and-task_args", "positional-and-task_args",
         "more-tasks-than-task_args", "fewer-tasks-than-task_args", "empty-task_args"],
)
@pytest.mark.parametrize("runner", ["run_tasks", "ThreadRunner.run"])
def test_conflicting_arguments_are_refused_before_anything_runs(
    runner: str, call: dict[str, Any], error: type[Exception], message: str
) -> None:
    ran: list[int] = []

    def task(n: int) -> None:
        ran.append(n)

    call = dict(call)  # the parameter's dict is shared by both runners' cases
    fn_args = call.pop("fn_args", ())
    with pytest.raises(error, match=message):
        if runner == "run_tasks":
            run_tasks("thread", task, *fn_args, workers=1, **call)
        else:
            with ThreadRunner() as thread_runner:
                thread_runner.run(task, *fn_args, workers=1, **call)
    assert ran == []


def test_thread_runner_passes_keyword_arguments_only_through_kwargs() -> None:
    with ThreadRunner() as runner:
        mine = {"workers": 3, "tasks": 4, "executor": "runner"}
        timeline = runner.run(keywords, kwargs=mine, workers=2)
        assert timeline.results == [(3, 4, "runner")] * 2
        assert timeline.workers == 2
        timeline = runner.run(worker, kwargs={"t": 0}, tasks=3, workers=1)
        assert timeline.results == [1000] * 3
        # no forwarding of unknown keywords: the function's keywords go in kwargs={...}
        with pytest.raises(TypeError, match="'t'"):
            runner.run(worker, t=0, workers=1)  # type: ignore[call-arg]


def test_thread_runner_task_args_and_run_calls() -> None:
    with ThreadRunner() as runner:
        timeline = runner.run(calc_i, task_args=[(i, i * 10) for i in range(4)], workers=2)
        assert timeline.results == [(0, 0), (1, 10), (2, 20), (3, 30)]
        timeline = runner.run_calls([(calc, (10,), {}), (worker, (), {"t": 0})], 2)
        assert timeline.results == [10, 1000]
        assert timeline.workers == 2


def test_each_tasks_arguments_are_checked_before_a_process_runs_any(
    executor_factory: ExecutorFactory,
) -> None:
    pool = executor_factory("process", max_workers=1)
    with pytest.raises(TypeError, match=r"argument 0 of worker\(\.\.\.\) cannot be pickled"):
        run_tasks("process", worker, task_args=[(0,), (threading.Lock(),)], executor=pool)


# --------------------------------------------------------------------------------------------
# bad arguments


BAD_COUNTS = [0, -1, 1.5, True, "2"]


@pytest.mark.parametrize("kind", ["serial", "thread"])
@pytest.mark.parametrize(
    ("what", "bad"),
    [("tasks", bad) for bad in BAD_COUNTS] + [("workers", bad) for bad in [*BAD_COUNTS, None]],
)
def test_a_bad_count_is_a_value_error_naming_it(kind: str, bad: Any, what: str) -> None:
    counts: dict[str, Any] = {"tasks": 2, "workers": 1, what: bad}
    with pytest.raises(ValueError, match=rf"{what} must be a positive integer, got {bad!r}"):
        run_tasks(kind, calc, 10, **counts)


@pytest.mark.parametrize("bad", [*BAD_COUNTS, None])
def test_a_bad_worker_count_is_named_also_when_tasks_default_to_it(bad: Any) -> None:
    message = rf"workers must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match=message):
        run_tasks("thread", calc, 10, workers=bad)
    if bad is not None:  # ThreadRunner.run: None means one thread per task
        with ThreadRunner() as runner, pytest.raises(ValueError, match=message):
            runner.run(calc, 10, workers=bad)


@pytest.mark.parametrize("kind", ["serial", "thread"])
def test_tasks_default_to_one_per_worker(kind: str) -> None:
    timeline = run_tasks(kind, calc, 10, tasks=None, workers=3)
    assert timeline.results == [10, 10, 10]


def test_an_absurd_thread_count_is_refused_before_starting_anything() -> None:
    with pytest.raises(ValueError, match="workers"):
        run_tasks("thread", calc, 10, tasks=1, workers=10**7)


def test_an_unknown_kind_is_a_value_error_listing_the_kinds() -> None:
    with pytest.raises(ValueError, match="unknown executor kind 'greenlet'") as info:
        run_tasks("greenlet", calc, 10, tasks=1)
    assert RUNNER_KINDS == ("serial", "thread", "process", "interpreter")
    assert f"expected one of {', '.join(RUNNER_KINDS)}" in str(info.value)


# --------------------------------------------------------------------------------------------
# nothing left running


def test_no_process_is_left_after_executor_factory_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import psutil
        from pytest_gil.runners import run_tasks
        from pytest_gil.workloads import calc

        SEEN = set()

        def test_run(executor_factory):
            pool = executor_factory("process", max_workers=2)
            run_tasks("process", calc, 100, tasks=2, workers=2, executor=pool)
            SEEN.update(c.pid for c in psutil.Process().children(recursive=True))

        def test_gone():
            assert SEEN
            assert SEEN.isdisjoint(c.pid for c in psutil.Process().children(recursive=True))
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)
