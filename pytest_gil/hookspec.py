"""The hooks pytest-gil adds to pytest (registered by the plugin with ``pytest_addhooks``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .claims import Claim


@pytest.hookspec
def pytest_gil_claims(config: pytest.Config) -> Iterable[Claim] | None:
    """Return the claims this conftest or plugin registers (a list of
    :class:`pytest_gil.Claim`), or ``None``.

    Every implementation is called once the test files are collected; the claims of one
    implementation form a *catalogue*, named after the conftest's directory (or the plugin)
    unless a claim sets its own ``catalogue``.  A test decides one with
    ``@pytest.mark.claim(id)`` and the ``gil_claim`` fixture.  Example::

        import pytest_gil

        def pytest_gil_claims(config):
            return [pytest_gil.Claim("mylib.scales", "mylib.work() scales with threads",
                                     expected=lambda p: "refuted" if p.gil_enabled
                                     else "confirmed")]
    """


@pytest.hookspec
def pytest_gil_report(
    config: pytest.Config, session: pytest.Session, document: dict[str, Any]
) -> None:
    """Called once per run, on the xdist controller (or the only process), with the run's
    JSON report document (``docs/REPORT_SCHEMA.md``) before the report files are written.

    An implementation may add top-level keys of its own (readers ignore keys they do not
    know) — pytest-gil's baselines add ``"baseline"`` here — and may set
    ``session.exitstatus`` to fail the run.  It must not remove or change existing keys.
    """
