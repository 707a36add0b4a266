"""Mark a de-identified dataset as PS3.15 Annex E requires (PS3.15 E.1.1, CID 7050)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

METHOD_TEXT = "PS3.15 Annex E Basic Profile (keyed pseudonyms)"
LONGITUDINAL = {"modified": "MODIFIED", "full": "UNMODIFIED", "off": "REMOVED"}


def mark(ds: Dataset, codes: list[tuple[str, str]], dates_mode: str) -> None:
    """Set PatientIdentityRemoved, DeidentificationMethod(+CodeSequence) and the dates flag.

    Args:
        ds: the de-identified dataset.
        codes: CID 7050 (code value, meaning) pairs of what was applied.
        dates_mode: ``off``, ``full`` or ``modified`` (Retain Longitudinal Temporal Information).
    """
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = LONGITUDINAL[dates_mode]
