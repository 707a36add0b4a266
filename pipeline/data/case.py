"""The case model every reader returns, and the report of cases that could not be read.

A case is one image volume with its label, in a canonical orientation: array axes run
towards Right, Anterior, Superior (RAS+, the NIfTI/MONAI convention) for 3D, and
(row, column) for 2D images. ``affine`` maps array indices to world millimetres (RAS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel.orientations as nio
import numpy as np

CANONICAL = ("R", "A", "S")
# The attributes subgroups are cut by. DICOM carries them (a value it lacks is "unknown", e.g.
# removed by de-identification); image folders and MSD NIfTI do not carry them at all.
SUBGROUP_ATTRIBUTES = ("site", "manufacturer", "sex", "age")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Case:
    """One image with its ground truth and the attributes subgroups are built from."""

    case_id: str
    patient_id: str
    image: np.ndarray  # float32, spatial axes only (RAS for 3D)
    label: np.ndarray  # uint8 class indices 0..N (``pipeline.data.classes``), same shape as image
    affine: np.ndarray  # (ndim + 1) x (ndim + 1), index -> world (mm, RAS)
    site: str = "unknown"
    manufacturer: str = "unknown"
    sex: str = "unknown"
    age: int | None = None
    source: str = ""
    unrecorded: tuple[str, ...] = ()  # attributes the source format does not carry (not: lacks a value)
    unmapped: tuple[str, ...] = ()  # source label values (SEG segment labels) present but in no class: background

    @property
    def spacing(self) -> list[float]:
        """Voxel size in mm along each array axis."""
        return [float(v) for v in np.linalg.norm(self.affine[:-1, :-1], axis=0)]

    def attributes(self) -> dict:
        """The JSON-safe, PHI-free attributes of the case (no arrays)."""
        attributes = {"case_id": self.case_id, "patient_id": self.patient_id, "site": self.site,
                      "manufacturer": self.manufacturer, "sex": self.sex, "age": self.age}
        return {**attributes, "unrecorded": list(self.unrecorded)} if self.unrecorded else attributes


@dataclass(frozen=True)
class BadCase:
    """A case that could not be used: its name and why."""

    name: str
    reason: str


@dataclass
class ReadResult:
    """What a reader found: the usable cases and the bad ones, each with a reason."""

    cases: list[Case] = field(default_factory=list)
    bad: list[BadCase] = field(default_factory=list)

    @property
    def bad_fraction(self) -> float:
        """Share of bad cases among all cases seen (0 when nothing was seen)."""
        total = len(self.cases) + len(self.bad)
        return len(self.bad) / total if total else 0.0


def to_canonical(image: np.ndarray, label: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip/permute a 3D volume (no resampling) so its axes run towards R, A, S.

    Args:
        image: the volume, array axes in any order.
        label: the label on the same grid.
        affine: index -> RAS world affine of both.
    """
    current = nio.io_orientation(affine)
    transform = nio.ornt_transform(current, nio.axcodes2ornt(CANONICAL))
    new_affine = affine @ nio.inv_ornt_aff(transform, image.shape)
    return (np.ascontiguousarray(nio.apply_orientation(image, transform)),
            np.ascontiguousarray(nio.apply_orientation(label, transform)), new_affine)


def check_label(image: np.ndarray, label: np.ndarray, name: str) -> str | None:
    """The reason a label does not fit its image, or None when it does."""
    if label.shape != image.shape:
        return f"label shape {tuple(label.shape)} does not match image shape {tuple(image.shape)}"
    values = np.unique(label)
    if values.size and (values.min() < 0 or not np.all(np.equal(np.mod(values, 1), 0))):
        return f"label values are not non-negative integers: {values[:5].tolist()}"
    if not np.isfinite(image).all():
        return "image contains NaN or infinite values"
    return None
