"""Prefect orchestration of accesslake: thin flows around library calls.

``flows/ingest.py`` ingests the landing folder; ``flows/nightly.py`` is the
nightly run (deployed by ``prefect.yaml``, see ``docs/prefect.md``). Every task
wraps one function of ``src/accesslake/``; the library never imports Prefect,
and ``accesslake nightly`` runs the same steps without a server.

Run from the project root (``python -m flows.nightly``); Prefect loads
``flows/nightly.py`` with the working directory on ``sys.path``, so
``import flows.<module>`` works there too.
"""
