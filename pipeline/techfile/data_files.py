"""Where the documents that a quality engineer edits and signs live: ``regulatory/``, at the top
of the checkout beside ``requirements/`` and ``risk/``, not inside the package.

They are read from the checkout that holds this package, as the templates are. The technical file
is the only reader, so only the ``techfile`` stage depends on the folder. Each path is named here
once; the reading modules import their own.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.design.open_items import FILE as OPEN_ITEMS_FILE

FOLDER = Path(__file__).resolve().parents[2] / "regulatory"
REGULATORY = FOLDER / "regulatory.yaml"      # MDR Annex II index, clauses, PCCP, safety class rule
SOUP_DATA = FOLDER / "soup.yaml"             # IEC 62304 SOUP purposes and anomaly lists
GSPR = FOLDER / "gspr.yaml"                  # EU MDR Annex I checklist
ANNEX_IV = FOLDER / "ai_act_annex_iv.yaml"   # EU AI Act Annex IV cross-reference
THREATS = FOLDER / "threats.yaml"            # threat model
OPEN_ITEMS = FOLDER.parent / OPEN_ITEMS_FILE  # what the recorded run cannot answer (pipeline/design)
PMS = FOLDER / "pms.yaml"                    # post-market surveillance plan
LIFECYCLE = FOLDER / "lifecycle.yaml"        # IEC 62304 process decisions


def shown(path: Path) -> str:
    """A file of the folder as messages name it: from the top of the checkout
    (``regulatory/soup.yaml``)."""
    return path.relative_to(FOLDER.parent).as_posix()
