"""2D image-folder reader: images and masks in two folders, matched by file name.

``<path>/<image_dir>/<stem><ext>`` pairs with ``<path>/<label_dir>/<stem><label_suffix><ext>``
(any of .png, .tif, .tiff, .gif for the mask). Images are read as grey values with Pillow;
mask pixel values become classes by ``classes`` (``pipeline.data.classes``). Each image is its own patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.data.classes import map_values
from pipeline.data.case import SUBGROUP_ATTRIBUTES, BadCase, Case, ReadResult, check_label
from pipeline.data.params import ImageFolderSource

LABEL_EXTENSIONS = (".png", ".tif", ".tiff", ".gif")


def read(source: ImageFolderSource, progress=None) -> ReadResult:
    """Read every image matching ``source.pattern`` with its mask.

    Args:
        source: the validated ``image_folder`` source params.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    root = Path(source.path)
    result = ReadResult()
    images = sorted((root / source.image_dir).glob(source.pattern), key=natural_key)
    if not images:
        result.bad.append(BadCase(str(root / source.image_dir), f"no image matches {source.pattern!r}"))
    for path in (progress(images) if progress else images):
        try:
            result.cases.append(read_pair(path, _label_path(root / source.label_dir, path, source), source))
        except (OSError, ValueError, UnidentifiedImageError) as exc:
            result.bad.append(BadCase(path.name, f"{type(exc).__name__}: {exc}"))
    return result


def read_pair(image_path: Path, label_path: Path | None, source: ImageFolderSource) -> Case:
    """One image and its mask as a 2D case; raises on a missing or mismatched mask."""
    if label_path is None:
        raise ValueError(f"missing label: no mask named {image_path.stem}{source.label_suffix}.* in {source.label_dir}/")
    image = _grey(image_path).astype(np.float32)
    mask_values = _grey(label_path)
    problem = check_label(image, mask_values, image_path.stem)
    if problem:
        raise ValueError(problem)
    mask, unmapped = map_values(mask_values, source.classes)
    affine = np.diag([source.pixel_spacing_mm, source.pixel_spacing_mm, 1.0])
    return Case(case_id=image_path.stem, patient_id=image_path.stem, image=image, label=mask,
                affine=affine, source="image_folder", unrecorded=SUBGROUP_ATTRIBUTES, unmapped=unmapped)


def natural_key(path: Path) -> tuple:
    """Sort ``2.png`` before ``10.png`` (section order of serial images)."""
    stem = path.stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _label_path(folder: Path, image: Path, source: ImageFolderSource) -> Path | None:
    for ext in (image.suffix, *LABEL_EXTENSIONS):
        candidate = folder / f"{image.stem}{source.label_suffix}{ext}"
        if candidate.is_file():
            return candidate
    return None


def _grey(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        if img.mode in ("RGB", "RGBA", "P", "LA"):
            img = img.convert("L")
        return np.asarray(img)
