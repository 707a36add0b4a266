"""The technical file's PDF is the same bytes when rendered again, whichever font subsetter
WeasyPrint uses: fontTools (its fallback when HarfBuzz-Subset does not load) stamps each embedded
font subset with the time of rendering unless ``SOURCE_DATE_EPOCH`` is set."""

from __future__ import annotations

import contextlib
import os
import types

import pytest

from pipeline.techfile import render

HTML = "<html><body><h1>Technical file</h1><p>Lesion segmentation, release 1.0.0 <code>abc123</code></p></body></html>"


def _render_at(tmp_path, monkeypatch, name: str, clock: float) -> bytes:
    """The PDF of ``HTML`` rendered with fontTools' subsetter while the clock reads ``clock``."""
    import fontTools.misc.timeTools as time_tools
    import weasyprint.pdf.fonts as fonts

    monkeypatch.setattr(fonts, "harfbuzz_subset", None)  # WeasyPrint's fallback: fontTools
    monkeypatch.setattr(time_tools, "time", types.SimpleNamespace(time=lambda: clock))
    target = tmp_path / name
    render.render_pdf(HTML, tmp_path.as_uri() + "/", target)
    return target.read_bytes()


@pytest.mark.verifies("SRS-DOC-003")
def test_a_pdf_rendered_a_minute_later_is_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = _render_at(tmp_path, monkeypatch, "first.pdf", 1_800_000_000.0)
    again = _render_at(tmp_path, monkeypatch, "again.pdf", 1_800_000_060.0)
    assert first == again
    assert "SOURCE_DATE_EPOCH" not in os.environ  # the environment is left as it was


@pytest.mark.verifies("SRS-DOC-003")
def test_the_fallback_subsetter_would_stamp_the_clock_without_an_epoch(tmp_path, monkeypatch):
    """The premise of the rule above: without an epoch the fallback writes the time of rendering."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setattr(render, "source_date_epoch", contextlib.nullcontext)
    first = _render_at(tmp_path, monkeypatch, "first.pdf", 1_800_000_000.0)
    again = _render_at(tmp_path, monkeypatch, "again.pdf", 1_800_000_060.0)
    assert first != again


@pytest.mark.verifies("SRS-DOC-003")
def test_a_build_systems_own_epoch_is_kept(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    with render.source_date_epoch() as epoch:
        assert epoch == "1767225600"
    assert os.environ["SOURCE_DATE_EPOCH"] == "1767225600"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    with render.source_date_epoch() as epoch:
        assert epoch == render.DEFAULT_SOURCE_DATE_EPOCH
    assert "SOURCE_DATE_EPOCH" not in os.environ
