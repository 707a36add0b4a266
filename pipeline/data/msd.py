"""Medical Segmentation Decathlon reader: ``dataset.json`` with ``imagesTr/`` and ``labelsTr/`` NIfTI.

Each training pair becomes one case (patient = case, as MSD does not name patients). Images
are reoriented to RAS+ with nibabel, without resampling.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from pipeline.data.classes import map_values
from pipeline.data.case import SUBGROUP_ATTRIBUTES, BadCase, Case, ReadResult, check_label, to_canonical
from pipeline.data.params import MsdSource


def read(source: MsdSource, progress=None) -> ReadResult:
    """Read every ``training`` pair listed in ``dataset.json``.

    Args:
        source: the validated ``msd`` source params.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    root = Path(source.path)
    result = ReadResult()
    try:
        listing = json.loads((root / "dataset.json").read_text())["training"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        result.bad.append(BadCase(str(root / "dataset.json"), f"not an MSD dataset.json: {exc}"))
        return result
    for pair in (progress(listing) if progress else listing):
        name = Path(str(pair.get("image", "?"))).name.split(".nii")[0]
        try:
            result.cases.append(read_pair(root / pair["image"], root / pair["label"], source, name))
        except (OSError, ValueError, KeyError, TypeError, nib.filebasedimages.ImageFileError) as exc:
            result.bad.append(BadCase(name, f"{type(exc).__name__}: {exc}"))
    return result


def read_pair(image_path: Path, label_path: Path, source: MsdSource, name: str) -> Case:
    """One NIfTI image and its label as a canonical (RAS) case; raises on any mismatch.

    Args:
        image_path: the image NIfTI (3D, or 4D with channels last).
        label_path: the label NIfTI.
        source: the source params (channel, classes).
        name: the case ID.
    """
    if not label_path.is_file():
        raise ValueError(f"missing label: {label_path.name} not found")
    image_nii, label_nii = nib.load(str(image_path)), nib.load(str(label_path))
    image = np.asarray(image_nii.dataobj, dtype=np.float32)
    if image.ndim == 4:
        if source.channel >= image.shape[3]:
            raise ValueError(f"channel {source.channel} requested, image has {image.shape[3]}")
        image = image[..., source.channel]
    label = np.asarray(label_nii.dataobj)
    problem = check_label(image, label, name)
    if problem:
        raise ValueError(problem)
    if not np.allclose(image_nii.affine, label_nii.affine, atol=1e-3):
        raise ValueError("label geometry (affine) does not match the image")
    mask, unmapped = map_values(label, source.classes)
    image, mask, affine = to_canonical(image, mask, image_nii.affine)
    return Case(case_id=name, patient_id=name, image=image, label=mask, affine=affine, source="msd",
                unrecorded=SUBGROUP_ATTRIBUTES, unmapped=unmapped)
