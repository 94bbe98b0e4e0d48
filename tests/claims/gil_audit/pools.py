"""``multiprocessing.Pool`` driven the way the document drives it, and pool helpers that never
leave a worker behind."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing.pool
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["PoolExecutor", "stop_pool", "terminating", "wait_for"]


class PoolExecutor(cf.Executor):
    """A ``multiprocessing.Pool`` as an Executor that pytest-gil's measuring functions can
    time (``executor="process", pool=PoolExecutor(...)``), in one of the document's ways:

    * ``"apply"`` — ``submit`` calls the blocking ``pool.apply`` (so a phase of ``k`` submits
      is the document's loop of ``k`` ``apply`` calls);
    * ``"apply_async"`` — ``submit`` calls ``pool.apply_async``, its callbacks complete the
      future;
    * ``"threads"`` — ``submit`` starts a thread that calls ``pool.apply`` (the document's last
      Pool example, one thread per task).

    ``shutdown`` joins those threads; the pool itself stays the caller's to close.
    """

    MODES = ("apply", "apply_async", "threads")

    def __init__(self, pool: multiprocessing.pool.Pool, workers: int,
                 mode: str = "apply_async") -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.pool = pool
        self.mode = mode
        self._max_workers = workers
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        fut.set_running_or_notify_cancel()  # a late callback must never hit a cancelled one
        if self.mode == "apply":
            self._apply_into(fut, fn, args, kwargs)
        elif self.mode == "apply_async":
            self.pool.apply_async(fn, args, kwargs, callback=fut.set_result,
                                  error_callback=fut.set_exception)
        else:
            t = threading.Thread(target=self._apply_into, args=(fut, fn, args, kwargs),
                                 name=f"sub={len(self._threads)}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()
        return fut

    def _apply_into(self, fut: cf.Future[Any], fn: Callable[..., Any],
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            fut.set_result(self.pool.apply(fn, args, kwargs))
        except BaseException as exc:
            fut.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for t in self._threads:
            t.join(30.0 if wait else 0.0)
        self._threads = [t for t in self._threads if t.is_alive()]


def stop_pool(pool: multiprocessing.pool.Pool, timeout: float = 5.0) -> None:
    """``pool.terminate()`` then ``pool.join()``; if that has not finished after ``timeout``
    seconds (a worker stuck where SIGTERM cannot end it), kill the workers outright."""
    procs = list(getattr(pool, "_pool", []))

    def stop() -> None:
        pool.terminate()
        pool.join()

    t = threading.Thread(target=stop, name="audit-pool-stop", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        for p in procs:
            if p.is_alive():
                p.kill()
        t.join(timeout)


@dataclasses.dataclass
class _Guarded:
    pool: multiprocessing.pool.Pool

    def __enter__(self) -> multiprocessing.pool.Pool:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        stop_pool(self.pool)


def terminating(pool: multiprocessing.pool.Pool) -> _Guarded:
    """``with terminating(Pool(n)) as pool:`` — terminate and join on exit, whatever
    happened (``Pool.__exit__`` terminates but does not join); see :func:`stop_pool`."""
    return _Guarded(pool)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0,
             step: float = 0.002) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` s pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
