"""Output paths from values the tool generated or checked, never from raw input text.

``<pseudonym>/<study uid>/<modality>_<series uid>/<sop uid>.dcm``: the pseudonym is a keyed
hash, the UIDs are new keyed UIDs (or, with ``retain_uids``, the input's UIDs, accepted only
when they are valid DICOM UIDs: digits and dots, at most 64 characters, no leading zeros), and
the modality is one of DICOM's defined terms (anything else becomes ``OT``). So no input value
can name a folder outside the output (a SOP Instance UID of ``../../x``) or put words in a path.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydicom.dataset import Dataset

UID_MAX_LENGTH = 64
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_SAFE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # never "." or ".."
PATH_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")

# PS3.3 C.7.3.1.1.1 Modality (0008,0060), defined terms, current and retired.
MODALITIES = frozenset("""
    ANN AR ASMT AU BDUS BI BMD CFM CR CT CTPROTOCOL DG DMS DOC DX ECG EEG EMG EOG EPS ES FID GM
    HC HD IO IOL IVOCT IVUS KER KO LEN LS M3D MG MR NM OAM OCT OP OPM OPT OPTBSV OPTENF OPV OSS
    OT PA PLAN POS PR PT PX REG RESP RF RG RTDOSE RTIMAGE RTINTENT RTPLAN RTRAD RTRECORD
    RTSEGANN RTSTRUCT RWV SEG SM SMR SR SRF STAIN TEXTUREMAP TG US VA XA XAPROTOCOL XC
    AS CD CF CP CS DD DF DM DS EC FA FS LP MA MS OPR ST VF
""".split())


class UnsafePathValue(ValueError):
    """A value that may not become part of an output path (the message names the attribute only)."""


def is_valid_uid(value: str) -> bool:
    """True for a syntactically valid DICOM UID (PS3.5 9.1).

    Args:
        value: the UID text.
    """
    return len(value) <= UID_MAX_LENGTH and _UID.fullmatch(value) is not None


def modality_code(value) -> str:
    """The modality for a folder name: a DICOM defined term, else ``OT``.

    Args:
        value: the dataset's Modality value (any type).
    """
    code = value.strip() if isinstance(value, str) else ""
    return code if code in MODALITIES else "OT"


def output_path(ds: Dataset, pseudonym: str) -> Path:
    """The relative output path of a de-identified dataset.

    Args:
        ds: the de-identified dataset (its UIDs are already replaced, or retained).
        pseudonym: the patient pseudonym.

    Raises:
        UnsafePathValue: a UID used in the path is not a valid DICOM UID (only possible when
            the input's UIDs are retained), or the pseudonym is not a plain name.
    """
    uids = {}
    for keyword in PATH_UIDS:
        value = str(ds.get(keyword, "") or "")
        if value and not is_valid_uid(value):
            raise UnsafePathValue(keyword)
        uids[keyword] = value
    study = uids["StudyInstanceUID"] or "no-study"
    series = uids["SeriesInstanceUID"] or "no-series"
    parts = (pseudonym, study, f"{modality_code(ds.get('Modality'))}_{series}", f"{uids['SOPInstanceUID']}.dcm")
    if not all(_SAFE_PART.fullmatch(part) for part in parts):
        raise UnsafePathValue("PatientID" if not _SAFE_PART.fullmatch(pseudonym) else "SOPInstanceUID")
    return Path(*parts)
