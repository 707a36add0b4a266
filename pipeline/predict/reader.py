"""Read what ``predict`` is given: a DICOM series folder, a NIfTI file or a 2D image.

Every input becomes an ``InputImage``: the array in the canonical frame the training data had
(RAS+ for 3D, rows x columns for 2D), its affine, and what the writer needs to put a mask
back onto the input's own grid (the DICOM datasets and volume, the NIfTI header, the 2D shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import nibabel.orientations as nio
import numpy as np

from pipeline.data.case import CANONICAL, LPS_TO_RAS
from pipeline.core.errors import UserError

NIFTI = (".nii", ".nii.gz")
SPACING_RANGE_MM = (0.01, 50.0)  # a voxel edge outside this is a broken header, not a CT
IMAGES_2D = (".png", ".tif", ".tiff", ".gif", ".jpg", ".jpeg", ".bmp")
FRAMES = {  # what the millimetres of each input kind's own affine mean
    "dicom": "DICOM patient coordinates (LPS, mm); voxel index (slice, row, column) of the series volume",
    "nifti": "NIfTI world coordinates (RAS, mm, the file's sform/qform); voxel index (i, j, k) of the file",
    "image": "image plane (mm from the first pixel's centre at the stated pixel spacing); index (row, column)",
}


@dataclass
class InputImage:
    """An input in the canonical frame, plus what is needed to return to its own grid."""

    kind: str  # dicom | nifti | image
    array: np.ndarray  # canonical order, spatial axes only; float32, or a NIfTI's integers of up to 16 bits
    affine: np.ndarray  # canonical index -> world (RAS mm); 3x3 for 2D
    back: np.ndarray | None = None  # nibabel orientation transform canonical -> input order
    extra: dict = field(default_factory=dict)


def read_input(path: Path, pixel_spacing_mm: float = 1.0,
               voxel_spacing_mm: tuple[float, float, float] | None = None) -> InputImage:
    """Read ``path`` by its kind; raise ``UserError`` for anything missing or unsupported.

    Args:
        path: a folder with one DICOM series, a ``.nii``/``.nii.gz`` file, or a 2D image.
        pixel_spacing_mm: pixel size assumed for 2D images (they carry none).
        voxel_spacing_mm: the voxel size of a NIfTI file that records no geometry.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"input {path} not found")
    if path.is_dir():
        return read_dicom_series(path)
    name = path.name.lower()
    if name.endswith(NIFTI):
        return read_nifti(path, voxel_spacing_mm)
    if name.endswith(IMAGES_2D):
        return read_image_2d(path, pixel_spacing_mm)
    raise UserError(f"input {path} is not supported: pass a DICOM series folder, a NIfTI file "
                    f"({', '.join(NIFTI)}) or a 2D image ({', '.join(IMAGES_2D)})")


def read_dicom_series(folder: Path) -> InputImage:
    """The one image series in ``folder`` (any file names), ordered along the slice normal."""
    import highdicom as hd
    import pydicom

    series: dict[str, list] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(file)
        except Exception:  # not a DICOM file: ignored, like the reader of the training data
            continue
        if "PixelData" in ds and ds.get("Modality", "") != "SEG" and "ImagePositionPatient" in ds:
            series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    if len(series) != 1:
        raise UserError(f"{folder} must hold exactly one DICOM image series, found {len(series)}")
    datasets = next(iter(series.values()))
    try:
        volume = hd.get_volume_from_series(datasets, dtype=np.float32)
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{folder}: cannot build a volume from the series: {exc}") from None
    _check_array(volume.array, str(folder))
    _check_spacing(np.linalg.norm(volume.affine[:3, :3], axis=0), str(folder))
    image = InputImage(kind="dicom", array=volume.array, affine=LPS_TO_RAS @ volume.affine,
                       extra={"datasets": datasets, "volume": volume, "input_affine": volume.affine,
                              "frame": FRAMES["dicom"]})
    return _canonical(image)


def read_nifti(path: Path, voxel_spacing_mm: tuple[float, float, float] | None = None) -> InputImage:
    """A 3D NIfTI image (a 4D one with a single volume is squeezed).

    A file whose qform and sform codes are both 0 records no geometry: nibabel would fall back to
    its pixdim fields (often 1 mm or 0), and a mask from a guessed voxel size is wrong by the cube
    of the error. Such a file is refused unless ``voxel_spacing_mm`` states the voxel size (its
    axes are then taken as RAS, as NIfTI's fallback does).
    """
    try:
        nii = nib.load(str(path))
        array = np.asarray(nii.dataobj)
    except Exception as exc:  # nibabel raises several types for broken files
        raise UserError(f"{path} is not a readable NIfTI file: {type(exc).__name__}: {exc}") from None
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    _check_array(array, str(path))
    if array.ndim != 3:
        raise UserError(f"{path} has shape {array.shape}: expected a 3D volume")
    affine = nii.affine
    if int(nii.header["qform_code"]) == 0 and int(nii.header["sform_code"]) == 0:
        if voxel_spacing_mm is None:
            raise UserError(f"{path} records no geometry (qform and sform codes are 0; pixdim "
                            f"{[float(v) for v in nii.header['pixdim'][1:4]]}): pass --voxel-spacing X Y Z "
                            "(mm) to state the voxel size")
        affine = np.diag([*map(float, voxel_spacing_mm), 1.0])
    elif voxel_spacing_mm is not None:
        raise UserError(f"{path} records its own geometry: --voxel-spacing is only for files that do not")
    _check_spacing(np.linalg.norm(affine[:3, :3], axis=0), str(path))
    image = InputImage(kind="nifti", array=_compact(array), affine=affine,
                       extra={"nifti": nii, "input_affine": affine, "frame": FRAMES["nifti"]})
    return _canonical(image)


def read_image_2d(path: Path, pixel_spacing_mm: float) -> InputImage:
    """A 2D grey image (colour images are converted to grey as in training)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode in ("RGB", "RGBA", "P", "LA"):
                img = img.convert("L")
            array = np.asarray(img)
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"{path} is not a readable image: {exc}") from None
    _check_array(array, str(path))
    if array.ndim != 2:
        raise UserError(f"{path} has shape {array.shape}: expected a 2D grey image")
    affine = np.diag([pixel_spacing_mm, pixel_spacing_mm, 1.0])
    return InputImage(kind="image", array=array.astype(np.float32), affine=affine,
                      extra={"input_affine": affine, "frame": FRAMES["image"]})


def to_input_order(image: InputImage, mask: np.ndarray) -> np.ndarray:
    """A mask on the canonical grid, permuted/flipped back into the input's array order."""
    if image.back is None:
        return mask
    return np.ascontiguousarray(nio.apply_orientation(mask, image.back))


def input_geometry(image: InputImage) -> tuple[np.ndarray, str]:
    """The input's own index -> mm affine (in its own array order, as ``to_input_order`` gives) and
    what its coordinates mean (``FRAMES``)."""
    return np.asarray(image.extra["input_affine"], dtype=np.float64), image.extra["frame"]


def _canonical(image: InputImage) -> InputImage:
    current = nio.io_orientation(image.affine)
    target = nio.axcodes2ornt(CANONICAL)
    forward = nio.ornt_transform(current, target)
    image.affine = image.affine @ nio.inv_ornt_aff(forward, image.array.shape)
    image.array = np.ascontiguousarray(nio.apply_orientation(image.array, forward))
    image.back = nio.ornt_transform(target, current)
    return image


def _compact(array: np.ndarray) -> np.ndarray:
    """Pixels whose values float32 holds exactly (integers of up to 16 bits, float32) keep their
    stored type (an int16 CT stays half the size of float32); anything else becomes float32, the
    type training reads images in."""
    if array.dtype == np.float32 or (np.issubdtype(array.dtype, np.integer) and array.dtype.itemsize <= 2):
        return array.astype(array.dtype.newbyteorder("="), copy=False)
    return array.astype(np.float32)


def _check_spacing(spacing, name: str) -> None:
    """Refuse voxel sizes no scanner produces (a broken header would give a plausible wrong mask)."""
    low, high = SPACING_RANGE_MM
    values = [float(v) for v in spacing]
    if not all(np.isfinite(values)) or not all(low <= v <= high for v in values):
        raise UserError(f"{name}: voxel size {[round(v, 6) for v in values]} mm is outside {low}..{high} mm "
                        "on some axis: the file's geometry is broken")


def _check_array(array: np.ndarray, name: str) -> None:
    """Refuse dtypes that are not real numbers, and NaN or infinite values, naming the input."""
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise UserError(f"{name}: pixel dtype {array.dtype} is not supported: expected integer or float values")
    if array.size == 0:
        raise UserError(f"{name}: the image is empty (shape {array.shape})")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise UserError(f"{name}: {bad} NaN or infinite pixel value(s): refusing to predict")
