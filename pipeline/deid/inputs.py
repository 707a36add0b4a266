"""The input files of a run: every file under the input folder, each folder read once.

Links to folders are followed (an input folder may gather studies from elsewhere), but a
folder is entered only once, by the first name that reaches it in sorted order, and never a
folder that holds the input folder itself. So link loops (``loop -> .``, ``up -> ..``) end
instead of recursing forever, and no link leads the run out to the input folder's parents.
"""

from __future__ import annotations

import os
from pathlib import Path


def list_files(source: Path) -> list[Path]:
    """Every file under ``source``, sorted; folders reached twice are read once.

    Args:
        source: the input folder.
    """
    top = os.path.realpath(source)
    above = {str(parent) for parent in Path(top).parents}
    seen = {top}
    found = []
    for folder, dirs, names in os.walk(source, followlinks=True):
        keep = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(folder, name))
            if real not in seen and real not in above:
                seen.add(real)
                keep.append(name)
        dirs[:] = keep
        found += [Path(folder) / name for name in names if (Path(folder) / name).is_file()]
    return sorted(found)
