"""Tests that decide the library's claims (registered in conftest.py)."""

import pytest
from checksums import digest
from checksums.workloads import DIGEST_BYTES, FLETCHER_BYTES, fletcher16_job, payload

# --8<-- [start:decide]
from pytest_gil import measure_parallelism, releases_gil


@pytest.mark.claim("checksums.digest-releases-gil")
def test_digest_releases_the_gil_claim(gil_claim):
    gil_claim.skip_if_not_testable()  # free-threaded builds: nothing to release
    gil_claim.decide(releases_gil(digest, payload(DIGEST_BYTES)))


@pytest.mark.claim("checksums.fletcher16-takes-turns")
def test_fletcher16_takes_turns_claim(gil_claim):
    result = measure_parallelism(fletcher16_job, FLETCHER_BYTES, workers=2)
    gil_claim.decide(result, hypothesis="serialized")
# --8<-- [end:decide]
