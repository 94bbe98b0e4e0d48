"""The claims of the source document (a Chinese tutorial on the GIL, ``multiprocessing``,
``Pool``, ``ThreadPoolExecutor``, ``ProcessPoolExecutor`` and ``Future``) and what a correct
measurement finds on each runtime.

Each :class:`pytest_gil.Claim` carries the document's sentence (``statement``), what the suite
measures, and ``expected``: the verdict on a runtime profile — and, for claims measured
several ways, a variant such as the executor or the start method.  The claims suite asserts
exactly that expectation, so a free-threaded build passes by *refuting* the GIL claims, not
by skipping them.  ``CLAIMS.md`` beside this file is the table these entries implement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pytest_gil import Claim, Expectation, RuntimeProfile, Verdict

__all__ = ["CATALOGUE", "CLAIMS", "NAME", "SOURCE"]

NAME = "gil-tutorial"
"""The catalogue's name in messages and reports."""

SOURCE = "../shared/seed/000_9635bc547ee0f514.txt (Chinese tutorial on the GIL and concurrency)"

Rule = Callable[[RuntimeProfile, "str | None"], Expectation]


def _e(verdict: str, reason: str) -> Expectation:
    return Expectation(Verdict(verdict), reason)


def _always(reason: str) -> Rule:
    return lambda p, v: _e("confirmed", reason)


def _needs_cpus(reason: str) -> Rule:
    def rule(p: RuntimeProfile, v: str | None) -> Expectation:
        if p.usable_cpus < 2:
            return _e(
                "not-testable",
                f"{p.usable_cpus} usable CPU: ideal speedup min(workers, CPUs) = 1, so scaling "
                "cannot be told from serial execution",
            )
        return _e("confirmed", reason)

    return rule


def _gil_serializes(p: RuntimeProfile, variant: str | None) -> Expectation:
    if variant == "interpreter":
        if p.subinterpreters is None:
            return _e("not-testable", "no sub-interpreter API (needs CPython 3.12+)")
        if p.usable_cpus < 2:
            return _needs_cpus("")(p, variant)
        return _e(
            "refuted", "each sub-interpreter has its own GIL (PEP 684): threads in them scale"
        )
    if p.gil_enabled:
        return _e("confirmed", "the GIL is enabled: one thread runs bytecode at a time")
    if p.usable_cpus < 2:
        return _needs_cpus("")(p, variant)
    return _e("refuted", "the GIL is disabled (free-threaded build): threads scale")


def _hog_starves(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.gil_enabled:
        return _e(
            "refuted",
            "since 3.2 the switch interval forces a CPU-bound thread to hand the GIL over",
        )
    return _e("refuted", "no GIL: the OS scheduler shares the CPUs between threads")


def _latency(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.gil_enabled:
        return _e(
            "confirmed", "a waking IO thread waits behind the GIL holder (convoy effect)"
        )
    if p.usable_cpus < 2:
        return _needs_cpus("")(p, variant)
    return _e("refuted", "no GIL: a waking thread does not wait for a CPU-bound one")


def _not_removed(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.free_threaded_build and p.gil_enabled:
        return _e("not-testable", "this free-threaded build runs with its GIL switched back on "
                  "(PYTHON_GIL=1 or an import): threads serialize whether or not the build "
                  "can run without it")
    if p.free_threaded_build:
        if p.usable_cpus < 2:
            return _needs_cpus("")(p, variant)
        return _e("refuted", "this is a free-threaded build (PEP 703): the GIL is removed and "
                  "threads run bytecode in parallel")
    return _e("confirmed", "this is a default (GIL) build: threads take turns")


def _main_guard(p: RuntimeProfile, variant: str | None) -> Expectation:
    if variant is not None and variant not in p.start_methods:
        return _e("not-testable", f"start method {variant!r} is not available here")
    if variant == "fork":
        return _e("refuted", "fork copies the parent: the unguarded script runs")
    return _e(
        "confirmed", f"{variant or 'spawn'} re-imports the main module in every child"
    )


def _subinterpreters(p: RuntimeProfile, variant: str | None) -> Expectation:
    if p.subinterpreters is None:
        return _e("not-testable", "no sub-interpreter API (needs CPython 3.12+)")
    return _needs_cpus("each sub-interpreter has its own GIL")(p, variant)


def _python_gil_env(p: RuntimeProfile, variant: str | None) -> Expectation:
    if not p.free_threaded_build:
        return _e(
            "not-testable", "PYTHON_GIL only switches the GIL on free-threaded builds"
        )
    return _e("confirmed", "PYTHON_GIL=0/1 selects the GIL state of a free-threaded build")


CLAIMS = [
    Claim(
        "gil.one-thread-at-a-time",
        "GIL 保证CPython一个进程中,只有一个线程执行字节码。甚至是在多核CPU的情况下",
        expected=_gil_serializes,
        measured="N threads run calc: speedup vs serial and parallelism = process CPU / wall",
    ),
    Claim(
        "gil.cpu-threads-no-faster",
        "the 4-thread calc example vs calling calc() four times",
        expected=_gil_serializes,
        measured="4 threads vs 4 serial calls of calc",
    ),
    Claim(
        "gil.c-code-releases",
        "(implied by 'only one thread executes bytecode')",
        expected=_needs_cpus("C code that drops the GIL runs in parallel"),
        measured="N threads hashing with hashlib.sha256 / compressing with zlib scale",
    ),
    Claim(
        "gil.cpu-hog-starves-others",
        "CPU密集型,当前线程可能会连续的获得GIL,导致其它线程几乎无法使用CPU",
        expected=_hog_starves,
        measured="per-thread progress of N CPU-bound threads over a window (Jain's fairness index)",
    ),
    Claim(
        "gil.io-latency-under-cpu-load",
        "CPU密集型,当前线程可能会连续的获得GIL (the part that is true: IO threads wait)",
        expected=_latency,
        measured="wake-up latency of a sleeping thread beside CPU-bound threads at several switch "
        "intervals",
    ),
    Claim(
        "gil.io-threads-overlap",
        "IO密集型,某个线程阻塞,就会调度其他就绪线程",
        expected=_always("blocking calls release the GIL"),
        measured="N threads each sleeping / blocking on a pipe for t finish in about t",
        kind="io_bound",
    ),
    Claim(
        "gil.threads-for-io",
        "IO密集型,使用多线程较为合算",
        expected=_always("waiting threads overlap"),
        measured="throughput of N threads on sleep/IO-bound tasks vs serial ≈ N",
        kind="io_bound",
    ),
    Claim(
        "gil.processes-for-cpu",
        "CPU密集型,使用多进程,要绕开GIL / 多进程效率更高",
        expected=_needs_cpus("each process has its own interpreter and GIL"),
        measured="N processes run calc (Process, Pool, ProcessPoolExecutor): speedup ≈ ideal",
    ),
    Claim(
        "gil.not-removed",
        "新版CPython正在努力优化GIL的问题,但不是移除",
        expected=_not_removed,
        measured="whether threads running calc take turns (parallelism = CPU / wall ≈ 1) or "
        "run together; the build flag Py_GIL_DISABLED and sys._is_gil_enabled() recorded",
    ),
    Claim(
        "mp.separate-interpreters",
        "多进程就是启动多个解释器进程",
        expected=_always("each process is its own interpreter"),
        measured="child pids differ; a global mutated in a child is unchanged in the parent",
        kind="functional",
    ),
    Claim(
        "mp.ipc-serializes",
        "进程间通信必须序列化、反序列化",
        expected=_always("multiprocessing pickles what crosses"),
        measured="lambdas fail to pickle; payload cost grows with size; threads pass without "
        "copying",
        kind="functional",
    ),
    Claim(
        "mp.io-threads-cheaper",
        "IO密集型在Python中适合是用多线程,可以减少多进程间IO的序列化开销",
        expected=_always("processes pay for pickling the payload, threads do not"),
        measured="IO-bound tasks with a payload of S bytes: threads vs processes as S grows",
        kind="io_bound",
    ),
    Claim(
        "mp.no-threads-gil-irrelevant",
        "如果每个进程中没有实现多线程,GIL可以说没什么用了",
        expected=_needs_cpus("a single-threaded process never waits for its own GIL"),
        measured="single-threaded processes scale whatever the GIL state",
    ),
    Claim(
        "mp.main-guard",
        '多进程代码一定要放在 __name__ == "__main__" 下面执行',
        expected=_main_guard,
        measured="a script starting processes without the guard, under each start method",
        kind="functional",
    ),
    Claim(
        "mp.shared-state",
        "multiprocessing还提供共享内存、服务器进程来共享数据,还提供了用于进程间通讯的Queue队列、Pipe管道",
        expected=_always("these primitives share state across processes"),
        measured="Value/Array, shared_memory, Manager dict, Queue and Pipe round-trips",
        kind="functional",
    ),
    Claim(
        "mp.process-api",
        "pid / wait(self, timeout=None) 进程的退出状态码 / terminate()",
        expected=lambda p, v: _e(
            "refuted", "Process has no wait(); exitcode holds the status and join() waits"
        ),
        measured="Process.pid, exitcode, join(timeout); Process has no wait method",
        kind="functional",
    ),
    Claim(
        "pool.apply-blocks",
        "apply … 阻塞执行,导致主进程执行其他子进程就像一个个执行",
        expected=_always("apply waits for each result"),
        measured="4 × pool.apply(calc) on Pool(4): total ≈ 4 × one task",
    ),
    Claim(
        "pool.apply-async-nonblocking",
        "apply_async … 非阻塞异步执行,得到结果后会执行回调",
        expected=_always("apply_async returns an ApplyResult at once"),
        measured="apply_async returns at once; 4 tasks on Pool(4) finish in ideal-limited time",
    ),
    Claim(
        "pool.callback-in-main",
        "the log shows the callback running in MainProcess Thread-3",
        expected=_always("callbacks run in the parent's result-handler thread"),
        measured="thread and pid in which callback / error_callback run",
        kind="functional",
    ),
    Claim(
        "pool.close-join-terminate",
        "close() 关闭池,池不能再接受新的任务; terminate() 立即结束工作进程; "
        "join方法要在close或terminate之后使用",
        expected=_always("as documented by multiprocessing"),
        measured="submit after close → ValueError; join before close → ValueError; terminate drops "
        "queued tasks",
        kind="functional",
    ),
    Claim(
        "pool.threads-calling-apply",
        "the last Pool example: 4 threads each calling pool.apply",
        expected=_needs_cpus("blocking apply calls from several threads overlap"),
        measured="4 threads × blocking apply on Pool(4): total ≈ ideal-limited, not 4 × task",
    ),
    Claim(
        "exec.max-workers",
        "ThreadPoolExecutor(max_workers=1) 池中至多创建max_workers个线程",
        expected=_always("the pool never exceeds max_workers threads"),
        measured="6 tasks of sleep(t) on 3 workers take ≈ 2t; never more than 3 worker threads",
        kind="io_bound",
    ),
    Claim(
        "exec.submit-returns-future",
        "submit(fn, *args, **kwargs) 提交执行的函数及其参数,返回Future类的实例",
        expected=_always("submit returns a Future"),
        measured="submit returns a Future at once; result() blocks and returns; exceptions "
        "re-raise",
        kind="functional",
    ),
    Claim(
        "exec.shutdown-waits",
        "shutdown(wait=True) 清理池",
        expected=_always("as documented by concurrent.futures"),
        measured="shutdown(wait=True) waits; submit after shutdown → RuntimeError; wait=False "
        "returns; "
        "cancel_futures cancels",
        kind="functional",
    ),
    Claim(
        "exec.context-manager",
        "with ProcessPoolExecutor(max_workers=3) as execcutor:",
        expected=_always("__exit__ calls shutdown(wait=True)"),
        measured="leaving the with block waits for all futures",
        kind="functional",
    ),
    Claim(
        "exec.process-pool-schedule",
        "ProcessPoolExecutor(max_workers=3) with 6 tasks sleeping 2..7",
        expected=_always("workers take tasks in submission order as they free up"),
        measured="makespan equals the greedy list-schedule makespan (scaled down)",
        kind="io_bound",
    ),
    Claim(
        "model.master-worker",
        "master启动多个worker工作进程,一般和CPU数目相同 … worker … 启动多线程 … "
        "这就是nginx工作模式",
        expected=_needs_cpus("the hybrid overlaps IO waits and uses every CPU"),
        measured="mixed CPU + IO requests: processes × threads vs threads only vs processes only",
    ),
    Claim(
        "extra.subinterpreters-scale",
        "(beyond the document) sub-interpreters as a third way around the GIL",
        expected=_subinterpreters,
        measured="N threads each in its own sub-interpreter run calc: speedup ≈ ideal",
    ),
    Claim(
        "extra.python-gil-env",
        "(beyond the document) PYTHON_GIL=0/1 on free-threaded builds",
        expected=_python_gil_env,
        measured="the GIL state each measurement ran under, with PYTHON_GIL=0 and 1 in a child",
        kind="functional",
    ),
]

CLAIMS = [dataclasses.replace(c, source=SOURCE, catalogue=NAME) for c in CLAIMS]

CATALOGUE: dict[str, Claim] = {c.id: c for c in CLAIMS}
