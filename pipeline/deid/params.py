"""The ``deid`` section of ``params.yaml``: profile options, pseudonym key, pixel policy, ceilings."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.core.params_base import StrictModel

UID_ROOT_PATTERN = r"^[1-9][0-9]*(\.(0|[1-9][0-9]*))*$"

# A shifted date must stay a valid DICOM date (DA is YYYYMMDD: 0001-01-01 to 9999-12-31) for
# every date an input can plausibly hold, taken as 1900-01-01 to 2099-12-31 (birth dates of
# living patients, study dates). Offsets outside these bounds are refused at validation.
DICOM_DATES = (datetime.date(1, 1, 1), datetime.date(9999, 12, 31))
INPUT_DATES = (datetime.date(1900, 1, 1), datetime.date(2099, 12, 31))
MIN_DATE_OFFSET = DICOM_DATES[0].toordinal() - INPUT_DATES[0].toordinal()
MAX_DATE_OFFSET = DICOM_DATES[1].toordinal() - INPUT_DATES[1].toordinal()


class ProfileOptions(StrictModel):
    """PS3.15 Annex E profile options (each changes the action of some table rows)."""

    retain_longitudinal_temporal: Literal["off", "full", "modified"] = Field(
        "modified", description="dates: off (removed/dummy), full (kept), modified (per-patient shift)"
    )
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_uids: bool = False
    retain_safe_private: bool = False
    clean_descriptors: bool = False
    clean_structured_content: bool = False
    clean_graphics: bool = False


class BlankRegion(StrictModel):
    """A rectangle of pixels (0-based, end exclusive) set to the minimum value on every frame."""

    row_start: int = Field(ge=0)
    row_stop: int = Field(gt=0)
    column_start: int = Field(ge=0)
    column_stop: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "BlankRegion":
        if self.row_stop <= self.row_start or self.column_stop <= self.column_start:
            raise ValueError("a region needs row_start < row_stop and column_start < column_stop")
        return self


Modality = Annotated[str, Field(pattern=r"^[A-Z0-9_]{1,16}$")]
# A SOP Class UID as DICOM writes it (PS3.5 9.1): a typo'd one would match no file, silently.
SopClassUid = Annotated[str, Field(pattern=r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$", max_length=64)]
# Where burned-in text is common: ultrasound, angiography and fluoroscopy, radiographs and
# mammograms, endoscopy and photographs, secondary captures and "other".
OCR_MODALITIES = ("US", "XA", "RF", "DX", "CR", "MG", "OT", "SC", "ES", "XC")


class BurnedInParams(StrictModel):
    """What happens to files whose pixels may carry burned-in text."""

    mode: Literal["quarantine", "blank"] = "quarantine"
    sop_classes: list[SopClassUid] = Field(
        default_factory=list, description="SOP classes known to carry burned-in text (always suspect)"
    )
    regions: list[BlankRegion] = Field(default_factory=list, description="blanked when mode=blank")
    # Pixel text (``pixeltext``): images whose header does not flag burned-in text are read too.
    ocr_modalities: list[Modality] = Field(
        default_factory=lambda: list(OCR_MODALITIES),
        description="modalities whose frames are always read by OCR (text there is common)")
    unscreened_modalities: list[Modality] = Field(
        default_factory=lambda: ["SEG", "RTDOSE"],
        description="modalities whose pixels are not pictures (label maps, dose grids): never read")
    ocr_frames: int = Field(3, ge=1, le=64, description="frames read by OCR per file (first, middle, last, ...)")
    ocr_min_score: float = Field(0.7, ge=0.1, le=1.0, description="OCR confidence from which a string is text")
    ocr_min_characters: int = Field(3, ge=1, le=64, description="shorter strings (letters, digits) are ignored")
    ocr_margin: int = Field(4, ge=0, le=64, description="pixels added around a text box blanked when mode=blank")

    @model_validator(mode="after")
    def _consistent(self) -> "BurnedInParams":
        if self.mode == "blank" and not self.regions:
            raise ValueError("mode 'blank' needs at least one region")
        both = sorted(set(self.ocr_modalities) & set(self.unscreened_modalities))
        if both:
            raise ValueError(f"modalities {both} are both in ocr_modalities and in unscreened_modalities")
        return self


class LeakCheckParams(StrictModel):
    """The independent leak check: which input values count, how they are searched.

    There is no switch to turn it off: it is the risk control RC-003 (RISK-001), and a run
    without it could not show that no identifier reached the outputs.
    """

    min_value_length: int = Field(3, ge=1, le=64, description="shorter values are not searched at all")
    min_substring_length: int = Field(
        5, ge=2, le=64, description="shorter values are matched as whole values only, not inside text"
    )


class DeidParams(StrictModel):
    """Options and policies of the de-identification stage (it writes ``paths`` deid,
    deid_quarantine and deid_metrics)."""

    source: str = Field(min_length=1, description="the DICOM folder read (the default cohort: the cohort "
                                                  "stage's output, written in params.yaml as an alias of paths.raw)")
    key_file: str = Field(".secrets/deid.key", min_length=1)
    key_env: str = Field("PIPELINE_DEID_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
    uid_root: str = Field("2.25", pattern=UID_ROOT_PATTERN, max_length=40)
    pseudonym_prefix: str = Field("SUBJ-", pattern=r"^[A-Z0-9_-]{0,16}$")
    date_offset_days: list[int] = Field(default_factory=lambda: [-1460, -30], min_length=2, max_length=2)
    options: ProfileOptions = Field(default_factory=ProfileOptions)
    burned_in: BurnedInParams = Field(default_factory=BurnedInParams)
    max_quarantined_share: float = Field(0.1, ge=0.0, le=1.0)
    leak_check: LeakCheckParams = Field(default_factory=LeakCheckParams)
    workers: int = Field(1, ge=1, le=64, description="processes; the output is the same for any number")
    reid_table: str | None = Field(None, min_length=1,
                                   description="re-identification table, outside DVC outputs")

    @field_validator("date_offset_days")
    @classmethod
    def _offsets_in_range(cls, value: list[int]) -> list[int]:
        outside = [days for days in value if not MIN_DATE_OFFSET <= days <= MAX_DATE_OFFSET]
        if outside:
            raise ValueError(
                f"offsets {outside} would move dates outside DICOM's date range "
                f"({DICOM_DATES[0].isoformat()} to {DICOM_DATES[1].isoformat()}) for inputs dated "
                f"{INPUT_DATES[0].isoformat()} to {INPUT_DATES[1].isoformat()}: each offset must lie in "
                f"[{MIN_DATE_OFFSET}, {MAX_DATE_OFFSET}] days")
        return value

    @model_validator(mode="after")
    def _offsets(self) -> "DeidParams":
        low, high = self.date_offset_days
        if low > high:
            raise ValueError(f"date_offset_days must be [low, high] with low <= high, got {self.date_offset_days}")
        if low <= 0 <= high:
            raise ValueError("date_offset_days must not contain 0 (every patient's dates must move)")
        return self
