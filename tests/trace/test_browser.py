"""The trace site in a real browser: Playwright driving Debian's Chromium from ``file://``.

The set-up installs the Debian package ``chromium`` when it is missing and it can (root with
apt-get); otherwise this test is skipped with the reason, except in CI (``CI=true``), where a
missing browser fails the test. Playwright never downloads a browser here: it is pointed at
``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest


from pipeline.trace.gates import check
from pipeline.trace.graph import TracePaths, build_trace
from pipeline.trace.site import write_site
from tests.paths import PATHS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
        "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "reports" / "trace-site.png"


def _install_chromium() -> str | None:
    """Install Debian's chromium if possible; the reason it is unavailable, or ``None``."""
    if CHROMIUM.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and apt-get cannot install it (not root or no apt-get)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() else f"{CHROMIUM} still missing after apt-get install"


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium, or skip (fail in CI) with the reason it is unavailable."""
    reason = _install_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        reason = reason or f"playwright is not installed: {exc}"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test must run in CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site of this repository's own design items and evidence, rendered to a tmp dir."""
    out = tmp_path_factory.mktemp("trace") / "site"
    trace = build_trace(TracePaths.of(ROOT, PATHS))
    write_site(trace, check(trace), out)
    return out


@pytest.mark.slow
@pytest.mark.verifies("SRS-TRACE-004")
def test_site_navigates_offline_with_no_broken_link_and_filters(browser, site: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    external: list[str] = []
    page.on("request", lambda request: None if request.url.startswith("file:")
            else external.append(request.url))
    start = (site / "index.html").as_uri()
    seen, queue, broken = set(), [start], []
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        target = Path(unquote(urlparse(url).path))
        if not target.is_file():
            # the manifest is written by the technical-file stage after the site: absent until then
            if not (target.name == Path(PATHS.manifest).name and not (ROOT / PATHS.manifest).is_file()):
                broken.append(url)
            continue
        if target.suffix != ".html":
            continue
        page.goto(url)
        found = page.evaluate("""() => ({
            main: document.querySelectorAll("main").length,
            hrefs: Array.from(document.querySelectorAll("a[href]"), e => e.href),
            badImages: Array.from(document.images).filter(
                e => !e.complete || e.naturalWidth === 0).map(e => e.src)})""")
        assert found["main"] == 1, url
        broken += found["badImages"]
        hrefs = found["hrefs"]
        queue += [h.split("#", 1)[0] for h in hrefs]
    assert broken == [] and external == []
    assert len(seen) > 100  # every design item, stage and test has a page

    page.goto(start)
    rows = page.locator("#matrix tbody tr")
    total = rows.count()
    page.fill('input[data-table="matrix"]', "SRS-DEID-001")
    visible = page.locator("#matrix tbody tr:visible")
    assert visible.count() == 1 and "SRS-DEID-001" in visible.first.inner_text()
    page.fill('input[data-table="matrix"]', "")
    assert page.locator("#matrix tbody tr:visible").count() == total
    for status in ("missing", "verified", "failed", "suspect"):
        page.select_option('select[data-table="matrix"]', status)
        shown = page.locator("#matrix tbody tr:visible")
        for i in range(shown.count()):
            assert status in shown.nth(i).get_attribute("data-status").split()
    page.select_option('select[data-table="matrix"]', "")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert SCREENSHOT.stat().st_size > 0


@pytest.fixture(scope="module")
def governed_site(tmp_path_factory) -> Path:
    """A small committed repository whose release has two approvals (one revoked) and a change
    report beside the site: ``release/trace`` is returned."""
    import yaml

    from pipeline.governance.approvals import approve, revoke
    from pipeline.governance.changes import write_report
    from pipeline.governance.diff import diff_release
    from pipeline.techfile.manifest import write_manifest
    from tests.trace.minirepo import MiniRepo

    base = tmp_path_factory.mktemp("governed")
    repo = MiniRepo(base / "repo").review_all()
    keys = {}
    for role in ("quality_assurance", "regulatory_affairs"):
        keys[role] = base / role
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys[role])], check=True)
    repo.policy = {"required_roles": list(keys)}
    (repo.root / "governance").mkdir(exist_ok=True)
    (repo.root / "governance/approvers.yaml").write_text(yaml.safe_dump({"approvers": [
        {"name": name, "role": role, "public_key": keys[role].with_suffix(".pub").read_text()}
        for name, role in (("Jane Doe", "quality_assurance"), ("Rick Roe", "regulatory_affairs"))]}))
    shutil.copy(ROOT / "governance/change_rules.yaml", repo.root / "governance/change_rules.yaml")
    repo.write()
    git = ["git", "-C", str(repo.root), "-c", "user.email=t@example.org", "-c", "user.name=t"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "release 1"]):
        subprocess.run(git + cmd, check=True, capture_output=True)
    repo.reqs[0]["text"] = "Slices are sorted along the scanner's slice normal."
    repo.write()
    (repo.root / "release/models").mkdir(parents=True)
    (repo.root / "release/models/compressed.onnx").write_bytes(b"model")
    write_report(diff_release(repo.root, "HEAD"), repo.root / "release/changes")
    build = {"commit": "c" * 40, "date": "2026-11-26T00:00:00+00:00", "draft": False, "changed_files": [],
             "dvc_lock_sha256": "0" * 64}
    write_manifest(repo.root / "release/manifest.json", repo.root / "release", build,
                   {"status": "releasable", "reasons": []}, {})
    approve(repo.root, keys["quality_assurance"], "Jane Doe", "quality_assurance", "approved for release")
    wrong = approve(repo.root, keys["regulatory_affairs"], "Rick Roe", "regulatory_affairs", "approved for release")
    revoke(repo.root, wrong.stem, keys["regulatory_affairs"], "Rick Roe", "regulatory_affairs",
           "signed before the labeling review")
    out = repo.root / "release/trace"
    trace = build_trace(TracePaths.of(repo.root, PATHS))
    write_site(trace, check(trace), out)
    return out


@pytest.mark.slow
@pytest.mark.verifies("SRS-GOV-003", "SRS-TRACE-004")
def test_approvals_page_shows_every_signature_and_revocation(browser, governed_site: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    external: list[str] = []
    page.on("request", lambda request: None if request.url.startswith("file:") else external.append(request.url))
    page.goto((governed_site / "index.html").as_uri())
    page.click("header >> text=Approvals")
    assert page.url.endswith("/approvals.html")
    rows = page.locator("#approval-table tbody tr")
    assert rows.count() == 2
    text = [rows.nth(i).inner_text() for i in range(2)]
    assert any("Jane Doe" in t and "quality_assurance" in t and "approved for release" in t
               and "SHA256:" in t and "valid" in t for t in text)
    assert any("Rick Roe" in t and "revoked" in t and "signed before the labeling review" in t for t in text)
    assert "signed before the labeling review" in page.locator("#revocation-table").inner_text()
    assert page.locator("#approver-table tbody tr").count() == 2
    page.click("#changes-link")
    assert page.url.endswith("/changes/index.html")
    change = page.locator("#change-requirement-SRS-TST-001")
    assert "new submission" in change.inner_text() and "scanner's" in change.locator(".ins").first.inner_text()
    assert external == []


@pytest.fixture(scope="module")
def release_site(tmp_path_factory) -> Path:
    """A small release laid out as ``make repro`` hands it over: ``release/trace`` beside
    ``release/models`` and ``release/manifest.json``; the site folder is returned."""
    from tests.trace.minirepo import MiniRepo, with_release

    repo = with_release(MiniRepo(tmp_path_factory.mktemp("release") / "repo")).review_all()
    out = repo.root / "release/trace"
    trace = build_trace(TracePaths.of(repo.root, PATHS))
    write_site(trace, check(trace), out)
    return out


@pytest.mark.slow
@pytest.mark.verifies("SRS-TRACE-004", "SRS-TRACE-005")
def test_a_user_need_reaches_the_released_model_file_in_at_most_four_clicks(browser, release_site: Path) -> None:
    import hashlib

    from tests.trace.minirepo import MODEL_BYTES, SOURCE_COMMIT

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    external: list[str] = []
    page.on("request", lambda request: None if request.url.startswith("file:") else external.append(request.url))
    page.goto((release_site / "index.html").as_uri())
    clicks = 0
    page.click('#needs a[href="URS-001.html"]')  # the user need
    clicks += 1
    assert page.url.endswith("/URS-001.html")
    assert "validated" in page.locator("#validation-state").inner_text()
    page.click('a[href="SRS-TST-001.html"]')  # a requirement derived from it
    clicks += 1
    assert page.url.endswith("/SRS-TST-001.html")
    model = page.locator("#released-files a.released-file", has_text="teacher model")
    assert page.locator("#released-files a.released-file", has_text="release manifest").count() == 1
    model.click()  # the model file itself, one click from its requirement (text bytes: shown, not downloaded)
    clicks += 1
    assert clicks <= 4
    assert page.url.endswith("/release/models/teacher.onnx")
    opened = Path(unquote(urlparse(page.url).path)).read_bytes()
    assert opened == MODEL_BYTES and page.locator("body").inner_text().strip() == MODEL_BYTES.decode().strip()
    assert hashlib.sha256(opened).hexdigest() in (release_site / "SRS-TST-001.html").read_text()

    page.goto((release_site / "VAL-001.html").as_uri())  # a criterion: n, the interval, the evidence
    row = page.locator("#result-table tbody tr").first.inner_text()
    assert "12" in row and "0.9 [0.85, 0.95]" in row and "PASS" in row
    page.click("#report-link a")
    assert page.url.endswith("/reports/vnv.json")
    page.goto((release_site / "test-tests.test_a_test_sorts.html").as_uri())  # a test: outcome, duration, commit
    text = page.locator("main").inner_text()
    assert "passed" in text and "1.250 s" in text and SOURCE_COMMIT in text
    page.click("#report-link a")
    assert page.url.endswith("/reports/junit.xml")
    assert external == []
