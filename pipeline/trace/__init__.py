"""Traceability: the trace graph, its check gates, suspect links and the static site.

``python -m pipeline trace check | review ID | site OUT`` (see ``cli``).

Decisions worth knowing:

- Inputs: design items (``requirements/``, ``risk/``, ``verification/``), ``dvc.yaml`` stage
  ``meta``, ``dvc.lock`` hashes, test markers scanned from ``tests/`` joined with the results
  in ``reports/junit.xml``, ``metrics/vnv.json`` (criteria, verified model hashes, evidence)
  and the MLflow SQLite store. Every input except the design items is optional: what is
  absent shows as *missing*, it never crashes the check or the site.
- ``reports/junit.xml`` is written by ``make test``, not by a DVC stage, so it is not a DVC
  dependency of the ``trace`` stage (a missing dependency would stop ``dvc repro``). The site
  records the SHA-256 of the report it used; ``trace check`` always reads the current one.
  Re-render after a test run with ``dvc repro --force --single-item trace``.
- ``dvc.lock`` is read, not declared as a dependency (the stage's own entry lives there).
- Review record: ``requirements/reviews.yaml`` (committed, written only by ``trace review``)
  holds per item the fingerprint of the item and of each link target. A design change marks
  links suspect until reviewed. An artifact whose hash changed since its evidence was
  produced (``dvc.lock`` dependency hashes, MLflow input tags, model and evidence SHA-256 in
  ``vnv.json``) is suspect until the evidence is produced again by ``dvc repro``: evidence
  cannot be reviewed into validity.
- Change impact runs both ways: an item edited since its review also marks the items it links to
  (its parents) suspect, and a stage output recorded with a new hash marks the criteria results
  and explanation evidence produced from the old one suspect until their stage runs again.
- ``trace check`` (not the site, which is rendered inside ``dvc repro``) adds the ``approval``
  gate: ``python -m pipeline release verify``'s findings (``pipeline.governance``). The site's
  ``approvals.html`` lists the signatures and revocations; it is not listed in the manifest.
"""
