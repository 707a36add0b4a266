"""Write the predicted mask on the input's own grid: NIfTI, DICOM SEG (DICOM input) or PNG (2D)."""

from __future__ import annotations

import io
from pathlib import Path

import nibabel as nib
import numpy as np

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.predict.reader import NIFTI, InputImage, to_input_order

SEG_SUFFIXES = (".dcm",)
PNG_SUFFIXES = (".png",)


def output_kind(path: Path, image: InputImage) -> str:
    """``nifti``, ``seg`` or ``png`` from the output name; raise ``UserError`` when it cannot fit."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI):
        if image.kind == "image":
            raise UserError(f"{path}: a 2D image input gives a PNG mask; name the output *.png")
        return "nifti"
    if name.endswith(SEG_SUFFIXES):
        if image.kind != "dicom":
            raise UserError(f"{path}: a DICOM SEG needs a DICOM series input; name the output *.nii.gz")
        return "seg"
    if name.endswith(PNG_SUFFIXES):
        if image.kind != "image":
            raise UserError(f"{path}: PNG output is for 2D image input; name the output *.nii.gz or *.dcm")
        return "png"
    raise UserError(f"output {path} is not supported: name it *.nii.gz / *.nii (NIfTI), *.dcm "
                    "(DICOM SEG, DICOM input) or *.png (2D input)")


def write(path: Path, image: InputImage, mask: np.ndarray, metadata: dict[str, str], labels: list[str],
          descriptions: tuple[str, dict[int, str]] | None = None) -> str:
    """Write ``mask`` (canonical grid of ``image``) to ``path`` atomically; return the format.

    Args:
        path: the output file.
        image: the input as read.
        mask: class index per voxel on the canonical input grid.
        metadata: the model file's metadata (version, role) for the SEG's algorithm identification.
        labels: class names by index.
        descriptions: for a DICOM SEG, its SeriesDescription and each segment's SegmentDescription
            (the lesion count and volumes: ``report.seg_descriptions``).
    """
    kind = output_kind(path, image)
    if kind == "nifti":
        data = _nifti_bytes(image, mask, gz=Path(path).name.lower().endswith(".gz"))
    elif kind == "seg":
        data = _seg_bytes(image, mask, metadata, labels, descriptions)
    else:
        data = _png_bytes(mask, len(labels))
    with atomic_file(Path(path), mode="wb") as handle:
        handle.write(data)
    return kind


def _nifti_bytes(image: InputImage, mask: np.ndarray, gz: bool) -> bytes:
    if image.kind == "nifti":
        source = image.extra["nifti"]
        header = source.header.copy()
        header.set_data_dtype(np.uint8)
        out = nib.Nifti1Image(to_input_order(image, mask).astype(np.uint8, copy=False), source.affine, header)
    else:
        out = nib.Nifti1Image(mask.astype(np.uint8, copy=False), image.affine)
    buffer = io.BytesIO()
    file_map = out.make_file_map({"image": buffer, "header": buffer})
    out.to_file_map(file_map)
    raw = buffer.getvalue()
    if gz:
        import gzip

        return gzip.compress(raw, mtime=0)
    return raw


def _seg_bytes(image: InputImage, mask: np.ndarray, metadata: dict[str, str], labels: list[str],
               texts: tuple[str, dict[int, str]] | None = None) -> bytes:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    volume = image.extra["volume"]
    in_order = to_input_order(image, mask)
    algorithm = hd.AlgorithmIdentificationSequence(
        name="pipeline segmentation", family=codes.cid7162.ArtificialIntelligence,
        version=metadata.get("model_version", "unknown"))
    descriptions = [hd.seg.SegmentDescription(
        segment_number=index, segment_label=labels[index],
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for index in range(1, len(labels))]
    source = image.extra["datasets"]
    seg = hd.seg.Segmentation(
        source_images=source, pixel_array=volume.with_array(in_order.astype(np.uint8)),
        # one BINARY segment per foreground class (highdicom splits the label map by segment number):
        # the Segmentation Storage class every SEG reader knows, not the newer label-map class
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=901,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="pipeline",
        manufacturer_model_name=f"segmentation {metadata.get('model_role', 'model')}",
        software_versions=metadata.get("model_version", "unknown"), device_serial_number="none",
        content_label="PREDICTION", content_description="Automatic segmentation: review before use",
        omit_empty_frames=False)
    if texts is not None:
        series, per_segment = texts
        seg.SeriesDescription = series[:64]  # LO
        for item in seg.SegmentSequence:
            if int(item.SegmentNumber) in per_segment:
                item.SegmentDescription = per_segment[int(item.SegmentNumber)][:1024]  # ST
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


def _png_bytes(mask: np.ndarray, classes: int) -> bytes:
    from PIL import Image

    values = (mask > 0).astype(np.uint8) * 255 if classes == 2 else mask.astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="PNG")
    return buffer.getvalue()
