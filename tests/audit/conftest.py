"""Tests *of* the claims suite (not claims): the catalogue against its table and the tests,
the audit's use of the public API, and every experiment driven to its opposite verdict.

They import the audit's package, ``gil_audit``, which lives with the claims suite in
``tests/claims/``; the claims suite itself (``pytest tests/claims``) stays claims only.
"""

from __future__ import annotations

import sys
from pathlib import Path

CLAIMS = Path(__file__).resolve().parents[1] / "claims"
if str(CLAIMS) not in sys.path:
    sys.path.insert(0, str(CLAIMS))
