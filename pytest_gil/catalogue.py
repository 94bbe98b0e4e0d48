"""The claims of the source document (``CLAIMS.md``) and what a correct measurement expects.

Each :class:`Claim` carries the document's sentence, what is measured, and
:meth:`Claim.expect`, the verdict a correct measurement reaches on a given runtime profile
(and, for claims measured several ways, a variant such as the executor or start method).
The claims suite asserts exactly that expectation, so a free-threaded build passes by
*refuting* the GIL claims, not by skipping them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .profile import RuntimeProfile

__all__ = ["CATALOGUE", "Claim", "Expectation", "get_claim"]


@dataclasses.dataclass(frozen=True)
class Expectation:
    """``verdict`` is ``confirmed``, ``refuted`` or ``not-testable``; ``reason`` says why."""

    verdict: str
    reason: str


Rule = Callable[[RuntimeProfile, "str | None"], Expectation]


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    says: str
    measured: str
    rule: Rule
    kind: str = "cpu_bound"  # cpu_bound | io_bound | functional

    def expect(self, profile: RuntimeProfile, variant: str | None = None) -> Expectation:
        """The verdict a correct measurement of this claim reaches on ``profile``."""
        return self.rule(profile, variant)


def _always(reason: str) -> Rule:
    return lambda p, v: Expectation("confirmed", reason)


def _needs_cpus(reason: str) -> Rule:
    def rule(p: RuntimeProfile, v: str | None) -> Expectation:
        if p.usable_cpus < 2:
            return Expectation(
                "not-testable",
                f"{p.usable_cpus} usable CPU: ideal speedup min(workers, CPUs) = 1, so scaling "
                "cannot be told from serial execution",
            )
        return Expectation("confirmed", reason)

    return rule


def _gil_serializes(p: RuntimeProfile, variant: str | None) -> Expectation:
    if variant == "interpreter":
        if p.subinterpreters is None:
            return Expectation("not-testable", "no sub-interpreter API (needs CPython 3.12+)")
        if p.usable_cpus < 2:
            return _needs_cpus("")(p, variant)
        return Expectation(
            "refuted", "each sub-interpreter has its own GIL (PEP 684): threads in them scale"
        )
    if p.gil_enabled:
        return Expectation("confirmed", "the GIL is enabled: one thread runs bytecode at a time")
    if p.usable_cpus < 2:
        return _needs_cpus("")(p, variant)
    return Expectation("refuted", "the GIL is disabled (free-threaded build): threads scale")


def _hog_starves(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.gil_enabled:
        return Expectation(
            "refuted",
            "since 3.2 the switch interval forces a CPU-bound thread to hand the GIL over",
        )
    return Expectation("refuted", "no GIL: the OS scheduler shares the CPUs between threads")


def _latency(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.gil_enabled:
        return Expectation(
            "confirmed", "a waking IO thread waits behind the GIL holder (convoy effect)"
        )
    if p.usable_cpus < 2:
        return _needs_cpus("")(p, variant)
    return Expectation("refuted", "no GIL: a waking thread does not wait for a CPU-bound one")


def _not_removed(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.free_threaded_build:
        return Expectation("refuted", "this is a free-threaded build (PEP 703): the GIL is removed")
    return Expectation("confirmed", "this is a default (GIL) build")


def _main_guard(p: RuntimeProfile, variant: str | None) -> Expectation:
    if variant is not None and variant not in p.start_methods:
        return Expectation("not-testable", f"start method {variant!r} is not available here")
    if variant == "fork":
        return Expectation("refuted", "fork copies the parent: the unguarded script runs")
    return Expectation(
        "confirmed", f"{variant or 'spawn'} re-imports the main module in every child"
    )


def _subinterpreters(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.subinterpreters is None:
        return Expectation("not-testable", "no sub-interpreter API (needs CPython 3.12+)")
    return _needs_cpus("each sub-interpreter has its own GIL")(p, variant)


def _python_gil_env(p: RuntimeProfile, variant: str | None) -> Expectation:
    if not p.free_threaded_build:
        return Expectation(
            "not-testable", "PYTHON_GIL only switches the GIL on free-threaded builds"
        )
    return Expectation("confirmed", "PYTHON_GIL=0/1 selects the GIL state of a free-threaded build")


_CLAIMS = [
    Claim(
        "gil.one-thread-at-a-time",
        "GIL 保证CPython一个进程中,只有一个线程执行字节码。甚至是在多核CPU的情况下",
        "N threads run calc: speedup vs serial and parallelism = process CPU / wall",
        _gil_serializes,
    ),
    Claim(
        "gil.cpu-threads-no-faster",
        "the 4-thread calc example vs calling calc() four times",
        "4 threads vs 4 serial calls of calc",
        _gil_serializes,
    ),
    Claim(
        "gil.c-code-releases",
        "(implied by 'only one thread executes bytecode')",
        "N threads hashing with hashlib.sha256 / compressing with zlib scale",
        _needs_cpus("C code that drops the GIL runs in parallel"),
    ),
    Claim(
        "gil.cpu-hog-starves-others",
        "CPU密集型,当前线程可能会连续的获得GIL,导致其它线程几乎无法使用CPU",
        "per-thread progress of N CPU-bound threads over a window (Jain's fairness index)",
        _hog_starves,
    ),
    Claim(
        "gil.io-latency-under-cpu-load",
        "CPU密集型,当前线程可能会连续的获得GIL (the part that is true: IO threads wait)",
        "wake-up latency of a sleeping thread beside CPU-bound threads at several switch "
        "intervals",
        _latency,
    ),
    Claim(
        "gil.io-threads-overlap",
        "IO密集型,某个线程阻塞,就会调度其他就绪线程",
        "N threads each sleeping / blocking on a pipe for t finish in about t",
        _always("blocking calls release the GIL"),
        "io_bound",
    ),
    Claim(
        "gil.threads-for-io",
        "IO密集型,使用多线程较为合算",
        "throughput of N threads on sleep/IO-bound tasks vs serial ≈ N",
        _always("waiting threads overlap"),
        "io_bound",
    ),
    Claim(
        "gil.processes-for-cpu",
        "CPU密集型,使用多进程,要绕开GIL / 多进程效率更高",
        "N processes run calc (Process, Pool, ProcessPoolExecutor): speedup ≈ ideal",
        _needs_cpus("each process has its own interpreter and GIL"),
    ),
    Claim(
        "gil.not-removed",
        "新版CPython正在努力优化GIL的问题,但不是移除",
        "Py_GIL_DISABLED, sys._is_gil_enabled() and the behaviour of threads running calc",
        _not_removed,
        "functional",
    ),
    Claim(
        "mp.separate-interpreters",
        "多进程就是启动多个解释器进程",
        "child pids differ; a global mutated in a child is unchanged in the parent",
        _always("each process is its own interpreter"),
        "functional",
    ),
    Claim(
        "mp.ipc-serializes",
        "进程间通信必须序列化、反序列化",
        "lambdas fail to pickle; payload cost grows with size; threads pass without copying",
        _always("multiprocessing pickles what crosses"),
        "functional",
    ),
    Claim(
        "mp.io-threads-cheaper",
        "IO密集型在Python中适合是用多线程,可以减少多进程间IO的序列化开销",
        "IO-bound tasks with a payload of S bytes: threads vs processes as S grows",
        _always("processes pay for pickling the payload, threads do not"),
        "io_bound",
    ),
    Claim(
        "mp.no-threads-gil-irrelevant",
        "如果每个进程中没有实现多线程,GIL可以说没什么用了",
        "single-threaded processes scale whatever the GIL state",
        _needs_cpus("a single-threaded process never waits for its own GIL"),
    ),
    Claim(
        "mp.main-guard",
        '多进程代码一定要放在 __name__ == "__main__" 下面执行',
        "a script starting processes without the guard, under each start method",
        _main_guard,
        "functional",
    ),
    Claim(
        "mp.shared-state",
        "multiprocessing还提供共享内存、服务器进程来共享数据,还提供了用于进程间通讯的Queue队列、Pipe管道",
        "Value/Array, shared_memory, Manager dict, Queue and Pipe round-trips",
        _always("these primitives share state across processes"),
        "functional",
    ),
    Claim(
        "mp.process-api",
        "pid / wait(self, timeout=None) 进程的退出状态码 / terminate()",
        "Process.pid, exitcode, join(timeout); Process has no wait method",
        lambda p, v: Expectation(
            "refuted", "Process has no wait(); exitcode holds the status and join() waits"
        ),
        "functional",
    ),
    Claim(
        "pool.apply-blocks",
        "apply … 阻塞执行,导致主进程执行其他子进程就像一个个执行",
        "4 × pool.apply(calc) on Pool(4): total ≈ 4 × one task",
        _always("apply waits for each result"),
    ),
    Claim(
        "pool.apply-async-nonblocking",
        "apply_async … 非阻塞异步执行,得到结果后会执行回调",
        "apply_async returns at once; 4 tasks on Pool(4) finish in ideal-limited time",
        _always("apply_async returns an ApplyResult at once"),
    ),
    Claim(
        "pool.callback-in-main",
        "the log shows the callback running in MainProcess Thread-3",
        "thread and pid in which callback / error_callback run",
        _always("callbacks run in the parent's result-handler thread"),
        "functional",
    ),
    Claim(
        "pool.close-join-terminate",
        "close() 关闭池,池不能再接受新的任务; terminate() 立即结束工作进程; "
        "join方法要在close或terminate之后使用",
        "submit after close → ValueError; join before close → ValueError; terminate drops "
        "queued tasks",
        _always("as documented by multiprocessing"),
        "functional",
    ),
    Claim(
        "pool.threads-calling-apply",
        "the last Pool example: 4 threads each calling pool.apply",
        "4 threads × blocking apply on Pool(4): total ≈ ideal-limited, not 4 × task",
        _needs_cpus("blocking apply calls from several threads overlap"),
    ),
    Claim(
        "exec.max-workers",
        "ThreadPoolExecutor(max_workers=1) 池中至多创建max_workers个线程",
        "6 tasks of sleep(t) on 3 workers take ≈ 2t; never more than 3 worker threads",
        _always("the pool never exceeds max_workers threads"),
        "io_bound",
    ),
    Claim(
        "exec.submit-returns-future",
        "submit(fn, *args, **kwargs) 提交执行的函数及其参数,返回Future类的实例",
        "submit returns a Future at once; result() blocks and returns; exceptions re-raise",
        _always("submit returns a Future"),
        "functional",
    ),
    Claim(
        "exec.shutdown-waits",
        "shutdown(wait=True) 清理池",
        "shutdown(wait=True) waits; submit after shutdown → RuntimeError; wait=False returns; "
        "cancel_futures cancels",
        _always("as documented by concurrent.futures"),
        "functional",
    ),
    Claim(
        "exec.context-manager",
        "with ProcessPoolExecutor(max_workers=3) as execcutor:",
        "leaving the with block waits for all futures",
        _always("__exit__ calls shutdown(wait=True)"),
        "functional",
    ),
    Claim(
        "exec.process-pool-schedule",
        "ProcessPoolExecutor(max_workers=3) with 6 tasks sleeping 2..7",
        "makespan equals the greedy list-schedule makespan (scaled down)",
        _always("workers take tasks in submission order as they free up"),
        "io_bound",
    ),
    Claim(
        "model.master-worker",
        "master启动多个worker工作进程,一般和CPU数目相同 … worker … 启动多线程 … "
        "这就是nginx工作模式",
        "mixed CPU + IO requests: processes × threads vs threads only vs processes only",
        _needs_cpus("the hybrid overlaps IO waits and uses every CPU"),
    ),
    Claim(
        "extra.subinterpreters-scale",
        "(beyond the document) sub-interpreters as a third way around the GIL",
        "N threads each in its own sub-interpreter run calc: speedup ≈ ideal",
        _subinterpreters,
    ),
    Claim(
        "extra.python-gil-env",
        "(beyond the document) PYTHON_GIL=0/1 on free-threaded builds",
        "the GIL state each measurement ran under, with PYTHON_GIL=0 and 1 in a child",
        _python_gil_env,
        "functional",
    ),
]

CATALOGUE: dict[str, Claim] = {c.id: c for c in _CLAIMS}


def get_claim(claim_id: object) -> Claim:
    """The catalogue entry for ``claim_id``; ``KeyError`` naming the known ids otherwise."""
    if not isinstance(claim_id, str) or claim_id not in CATALOGUE:
        raise KeyError(
            f"unknown claim id {claim_id!r}: the catalogue has {', '.join(sorted(CATALOGUE))}"
        )
    return CATALOGUE[claim_id]
