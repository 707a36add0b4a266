"""Pick the reader for a source, run it, and enforce the bad-case ceiling."""

from __future__ import annotations

from pipeline.data import dicom, image_folder, msd
from pipeline.data.case import ReadResult
from pipeline.core.errors import UserError

READERS = {"dicom": dicom.read, "msd": msd.read, "image_folder": image_folder.read}
PARALLEL = {"dicom"}  # readers that read their cases in worker processes (the others read few, large files)


def read_cases(source, max_bad_fraction: float, progress=None, workers: int = 1) -> ReadResult:
    """Read all cases of ``source``; fail when the share of bad cases exceeds the ceiling.

    Args:
        source: one of the validated source params (``format`` picks the reader).
        max_bad_fraction: the largest share of bad cases (0..1) that still lets the run go on.
        progress: optional callable wrapping an iterable (a progress bar).
        workers: processes the DICOM reader uses (the same cases in the same order for any number).
    """
    options = {"workers": workers} if source.format in PARALLEL else {}
    result = READERS[source.format](source, progress=progress, **options)
    if not result.cases:
        raise UserError(f"no usable case in {source.path} ({source.format}): " + _reasons(result))
    if result.bad_fraction > max_bad_fraction:
        raise UserError(
            f"{len(result.bad)} of {len(result.bad) + len(result.cases)} cases in {source.path} are bad "
            f"({result.bad_fraction:.0%} > max_bad_fraction {max_bad_fraction:.0%}): " + _reasons(result))
    return result


def _reasons(result: ReadResult) -> str:
    shown = "; ".join(f"{bad.name}: {bad.reason}" for bad in result.bad[:10])
    more = f" (+{len(result.bad) - 10} more)" if len(result.bad) > 10 else ""
    return shown + more if shown else "nothing found"
