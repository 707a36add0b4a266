"""Design controls as data: user needs, software requirements, risk file and V&V criteria.

One pydantic model per design-item kind (``items``), the ISO 14971 risk plan (``risk_plan``),
the loader for the repository's ``requirements/``, ``risk/`` and ``verification/`` folders
(``load``) and the pytest plugin for ``@pytest.mark.verifies`` (``pytest_verifies``).
"""
