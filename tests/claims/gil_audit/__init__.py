"""The audit of one tutorial's concurrency claims — pytest-gil's first client.

* :mod:`.catalogue` — the document's claims (its sentences), what is measured, and the
  verdict expected per runtime; ``CLAIMS.md`` beside it is the table they implement;
* :mod:`.experiments` — the document's statistical experiments, built on
  :func:`pytest_gil.measure_rounds` and the other public measuring functions;
* :mod:`.observations` — its functional statements, observed exactly;
* :mod:`.workers` — module-level functions that run in worker processes;
* :mod:`.pools` — ``multiprocessing.Pool`` driven the document's way, and pool helpers.

Everything here imports only public names of :mod:`pytest_gil`.
"""
