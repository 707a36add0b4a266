"""De-identify one file: read, check, look for text in the pixels, apply the profile, mark, and
name the output by pseudonyms.

Returns either the de-identified dataset with its output path (built only from the
pseudonym, the new or validated UIDs and a checked modality code: ``outpath``) or a quarantine
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, AllTransferSyntaxes

from pipeline.deid import actions, endian, marking, pixels, pixeltext
from pipeline.deid.allowlist import AllowList, build_allowlist
from pipeline.deid.keys import SecretKey
from pipeline.deid.outpath import UnsafePathValue, output_path
from pipeline.deid.params import BlankRegion, DeidParams
from pipeline.deid.profile import CLEAN_PIXEL_DATA, Profile, build_profile
from pipeline.deid.pseudonyms import Pseudonymizer

DIRECTORY_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR)
IMPLEMENTATION_VERSION = "PIPELINE_DEID"


@dataclass
class Outcome:
    """What became of one input file."""

    reason: str | None = None  # quarantine reason; None when written
    detail: str = ""
    dataset: Dataset | None = None
    payload: bytes = b""
    relative: Path | None = None
    pseudonym: str = ""
    patient_key: str = ""
    removed_unknown: int = 0
    removed_private: int = 0
    pixel_text: pixeltext.Scan = pixeltext.Scan()  # what the pixels showed (counts for the report)


@dataclass(frozen=True)
class Engine:
    """The per-run pieces every file needs."""

    params: DeidParams
    profile: Profile
    allow: AllowList
    pseudo: Pseudonymizer


def make_engine(params: DeidParams, key: SecretKey) -> Engine:
    """Resolve the profile and allow-list once and bind the key into a pseudonymizer.

    Args:
        params: the validated ``deid`` section.
        key: the secret key.
    """
    options = params.options
    low, high = params.date_offset_days
    return Engine(
        params=params,
        profile=build_profile(options),
        allow=build_allowlist(options.clean_graphics, options.retain_safe_private),
        pseudo=Pseudonymizer(key, params.uid_root, params.pseudonym_prefix, (low, high)),
    )


def process_file(path: Path, engine: Engine) -> Outcome:
    """De-identify one file; never raises for a bad file (it gets a quarantine reason).

    Args:
        path: the input file.
        engine: profile, allow-list and pseudonymizer of this run.
    """
    ds, reason = read(path)
    if ds is None:
        return Outcome(reason=reason)
    problem = _problem(ds, engine)
    if problem:
        return Outcome(reason=problem)
    scan = _pixel_text(ds, engine)
    if scan.undecodable:  # text in the pixels cannot be ruled out
        return Outcome(reason="pixel_data_undecodable", pixel_text=scan)
    if scan.found and engine.params.burned_in.mode == "quarantine":
        return Outcome(reason="burned_in_pixel_text", pixel_text=scan)
    try:
        outcome = _deidentify(ds, engine, scan)
    except Exception as exc:  # a malformed element: the file goes to quarantine, the batch goes on
        outcome = Outcome(reason="malformed_element", detail=type(exc).__name__)
    outcome.pixel_text = scan
    return outcome


def read(path: Path) -> tuple[Dataset | None, str]:
    """Read ``path`` as DICOM; ``(None, reason)`` if it is not DICOM or cannot be read.

    Args:
        path: the file to read.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
        part10 = len(head) == 132 and head[128:132] == b"DICM"
        ds = pydicom.dcmread(path, force=not part10)
        if not part10 and ("SOPClassUID" not in ds or "SOPInstanceUID" not in ds):
            return None, "not_dicom"
        return ds, ""
    except Exception as exc:
        if isinstance(exc, pydicom.errors.InvalidDicomError):
            return None, "not_dicom"
        return None, "unreadable"


def patient_key(ds: Dataset) -> str:
    """The identity the input knows the patient by: ID (with issuer), else name, else study.

    Args:
        ds: the input dataset.
    """
    patient_id = str(ds.get("PatientID", "") or "").strip()
    if patient_id:
        return f"id:{patient_id}|{str(ds.get('IssuerOfPatientID', '') or '').strip()}"
    name = str(ds.get("PatientName", "") or "").strip()
    if name:
        return f"name:{name}|{str(ds.get('PatientBirthDate', '') or '').strip()}"
    study = str(ds.get("StudyInstanceUID", "") or "").strip()
    return f"study:{study}" if study else f"sop:{ds.get('SOPInstanceUID', '')}"


def _problem(ds: Dataset, engine: Engine) -> str | None:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if not sop_class or not str(ds.get("SOPInstanceUID", "") or ""):
        return "missing_sop_uid"
    if sop_class == DIRECTORY_CLASS:
        return "unsupported_sop_class"
    syntax = getattr(ds, "file_meta", FileMetaDataset()).get("TransferSyntaxUID")
    if syntax is not None and syntax not in AllTransferSyntaxes:
        return "unsupported_transfer_syntax"
    problem = pixels.pixel_problem(ds)
    if problem:
        return problem
    burned = pixels.burned_in_reason(ds, engine.params.burned_in)
    if burned and engine.params.burned_in.mode == "quarantine":
        return burned
    return None


def _pixel_text(ds: Dataset, engine: Engine) -> pixeltext.Scan:
    """Text in the pixels of a file whose header does not flag it (a flagged one follows the
    header policy: quarantined, or its configured regions blanked)."""
    if pixels.burned_in_reason(ds, engine.params.burned_in):
        return pixeltext.Scan()
    return pixeltext.scan(ds, engine.params.burned_in)


def _deidentify(ds: Dataset, engine: Engine, scan: pixeltext.Scan) -> Outcome:
    if endian.is_big_endian(ds):  # retired byte order: rewritten as explicit VR little endian
        try:
            endian.to_little_endian(ds)
        except endian.ConversionError as exc:
            return Outcome(reason="big_endian_not_convertible", detail=str(exc))
    key = patient_key(ds)
    pseudonym = engine.pseudo.patient(key)
    codes = engine.profile.method_codes()
    regions = (engine.params.burned_in.regions if pixels.burned_in_reason(ds, engine.params.burned_in)
               else [BlankRegion(row_start=r0, row_stop=r1, column_start=c0, column_stop=c1)
                     for r0, r1, c0, c1 in scan.regions])  # text found in the pixels (mode blank)
    if regions:
        pixels.blank_regions(ds, regions)
        codes.append(CLEAN_PIXEL_DATA)
    syntax = getattr(ds, "file_meta", FileMetaDataset()).get("TransferSyntaxUID")
    ctx = actions.FileContext(engine.profile, engine.allow, engine.pseudo, pseudonym, engine.pseudo.date_offset(key))
    actions.deidentify(ds, ctx)
    marking.mark(ds, sorted(codes), engine.profile.options.retain_longitudinal_temporal)
    try:
        relative = output_path(ds, pseudonym)
    except UnsafePathValue as exc:  # a retained UID that is not a UID: never let it name a path
        return Outcome(reason="invalid_uid", detail=str(exc))
    ds.file_meta = _file_meta(ds, syntax)
    return Outcome(dataset=ds, relative=relative, pseudonym=pseudonym, patient_key=key,
                   removed_unknown=ctx.removed_unknown, removed_private=ctx.removed_private)


def _file_meta(ds: Dataset, syntax) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax if syntax is not None else pydicom.uid.ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta
