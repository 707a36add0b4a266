"""The team services: PostgreSQL, an S3-compatible object store and an authenticated MLflow server.

``python -m pipeline.services up`` (``make services-up``) starts them on loopback addresses with
their state under ``.services/`` (git-ignored), writes ``.services/env`` for a shell or CI to
source, and names the DVC remote ``team``; ``down`` (``make services-down``) stops them. The
identified zone's data never reaches these services: ``dvc.yaml`` marks the outputs that hold
identified data ``push: false`` (see :mod:`pipeline.services.privacy`).

Development infrastructure, not device software: no stage imports this package.
"""
