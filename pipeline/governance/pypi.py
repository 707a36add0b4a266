"""The network side of ``soup audit``: one package version's vulnerabilities from PyPI's JSON API.

Kept apart from the pure core (``soup_audit``) so that tests inject a recorded answer instead.
A 404 of the release endpoint falls back to the project endpoint, which describes only the
project's latest release; any other failure (no network, a 5xx after retries) raises
``UserError``, so an incomplete audit is never recorded.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Callable

from pipeline.core.errors import UserError
from pipeline.governance.soup_audit import Lookup

BASE = "https://pypi.org/pypi"
TIMEOUT_S = 30
ATTEMPTS = 3

Opener = Callable[[str], dict | None]  # URL -> parsed JSON, or None for a 404


def fetch(name: str, version: str, get: Opener | None = None) -> Lookup:
    """What PyPI publishes about ``name==version``.

    Args:
        name: the package as locked; version: the locked version.
        get: ``URL -> JSON or None (404)``; default: HTTPS with retries.
    """
    get = get or get_json
    release = get(f"{BASE}/{name}/{version}/json")
    if release is not None:
        return Lookup(True, "release endpoint", list(release.get("vulnerabilities") or []))
    project = get(f"{BASE}/{name}/json")
    if project is None:
        return Lookup(False, "not on PyPI (the project endpoint answered 404)")
    latest = str((project.get("info") or {}).get("version") or "")
    if latest == version:
        return Lookup(True, "project endpoint (the locked version is the latest release)",
                      list(project.get("vulnerabilities") or []))
    return Lookup(False, f"no release data served for {version} (release endpoint 404); the project "
                         f"endpoint describes only the latest release, {latest}")


def get_json(url: str) -> dict | None:
    """GET ``url`` as JSON; ``None`` on 404; retries network errors and 5xx, then ``UserError``."""
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                           "User-Agent": "pipeline-soup-audit"})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(2 ** attempt)
    raise UserError(f"soup audit: {url} could not be read ({last}); nothing was recorded")
