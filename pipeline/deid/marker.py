"""The marker that tells a previous output of the standalone command from anything else.

``deid SRC DST`` replaces DST only when DST is new, empty, or holds this marker (or when
``--replace`` says so): a folder of someone's files is never swapped away by a typo. The
marker is written into the temporary folder before it is renamed into place, so it appears
atomically with the output it describes. The DVC stage writes none: its outputs are declared
in ``dvc.yaml`` and owned by DVC, and ``data/deid`` stays exactly the de-identified files.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.atomic import dumps_json

NAME = ".pipeline-deid.json"
TOOL = "python -m pipeline deid"


def write(folder: Path, kind: str) -> None:
    """Mark ``folder`` (a temporary output about to be renamed into place) as ours.

    Args:
        folder: the folder to mark.
        kind: ``"output"`` or ``"quarantine"``.
    """
    (Path(folder) / NAME).write_text(dumps_json({"tool": TOOL, "kind": kind}))


def is_marked(folder: Path, kind: str) -> bool:
    """True when ``folder`` holds the marker of a previous run's ``kind`` folder.

    Args:
        folder: an existing folder.
        kind: ``"output"`` or ``"quarantine"``.
    """
    try:
        data = json.loads((Path(folder) / NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == TOOL and data.get("kind") == kind
