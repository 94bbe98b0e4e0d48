"""The claims of the checksums library: registered once, decided by the tests that measure
them, and reported beside every other check (terminal summary, JSON, HTML, the matrix)."""

import pytest_gil


# --8<-- [start:claims]
def pytest_gil_claims(config):
    return [
        pytest_gil.Claim(
            "checksums.digest-releases-gil",
            "digest() releases the GIL while it hashes, so other threads keep running",
            # Without a GIL there is nothing to release: not testable on free-threaded builds.
            expected=lambda profile: "confirmed" if profile.gil_enabled else "not-testable",
            measured="a Python thread's rate beside digest() calls vs its rate alone",
            source="checksums/__init__.py docstring",
        ),
        pytest_gil.Claim(
            "checksums.fletcher16-takes-turns",
            "threads computing fletcher16 take turns (only one runs Python code at a time)",
            # True with a GIL, false on a free-threaded build: the expectation flips.
            expected=lambda profile: "confirmed" if profile.gil_enabled else "refuted",
            measured="parallelism (CPU time / wall time) of 2 threads computing fletcher16",
        ),
    ]
# --8<-- [end:claims]
