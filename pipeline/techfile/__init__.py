"""The technical file: IEC 62304, ISO 14971, FDA AI-enabled device and EU MDR Annex II documents.

Rendered from recorded evidence only (metrics files, ``dvc.lock``, MLflow, the junit report,
evidence images, design items) through Jinja2 templates with ``StrictUndefined`` into one HTML
book and one PDF, plus ``release/manifest.json``. ``python -m pipeline techfile``.
"""
