"""Where each word of a PDF lies (``pdftotext -bbox-layout``): text outside the page or over other text.

A table whose columns are narrower than their content makes WeasyPrint draw cells over each
other; the words' boxes then intersect. Text past the page's side margins was cut off or
overflows the printable area.
"""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

MARGIN_PT = 28.0  # the book's side margins are 14 mm (39.7 pt); text may not reach closer than 28 pt
MIN_OVERLAP = 0.2  # share of the smaller word's box that another word may not cover


class _Words(HTMLParser):
    def __init__(self):
        super().__init__()
        self.pages: list[dict] = []
        self._word: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "page":
            self.pages.append({"width": float(attrs["width"]), "words": []})
        elif tag == "word":
            self._word = [float(attrs[k]) for k in ("xmin", "ymin", "xmax", "ymax")] + [""]

    def handle_data(self, data):
        if self._word is not None:
            self._word[4] += data

    def handle_endtag(self, tag):
        if tag == "word" and self._word is not None:
            self.pages[-1]["words"].append(tuple(self._word))
            self._word = None


def pages(pdftotext: str, pdf: Path) -> list[dict]:
    """Per page: ``width`` and ``words`` as ``(xmin, ymin, xmax, ymax, text)`` in points."""
    done = subprocess.run([pdftotext, "-bbox-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True)
    parser = _Words()
    parser.feed(done.stdout)
    return parser.pages


def problems(pdftotext: str, pdf: Path) -> list[str]:
    """``page N: ...`` for every word outside the side margins and every pair of overprinted words."""
    out = []
    for number, page in enumerate(pages(pdftotext, pdf), start=1):
        words = sorted(page["words"], key=lambda w: w[1])
        for word in words:
            if word[0] < MARGIN_PT or word[2] > page["width"] - MARGIN_PT:
                out.append(f"page {number}: {word[4]!r} outside the page margins")
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                if b[1] >= a[3]:  # sorted by top edge: no later word reaches up into this one
                    break
                dx = min(a[2], b[2]) - max(a[0], b[0])
                dy = min(a[3], b[3]) - max(a[1], b[1])
                smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
                if dx > 0 and dy > 0 and dx * dy > MIN_OVERLAP * smaller:
                    out.append(f"page {number}: {a[4]!r} overprints {b[4]!r}")
    return out


def text(pdftotext: str, pdf: Path) -> str:
    """The PDF's text in reading order, whitespace collapsed (words broken across lines joined)."""
    done = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())
