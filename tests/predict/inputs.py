"""Inputs with known answers for the predict tests: two cubes of known size, a tiny DICOM series,
and a threshold model whose file carries acquisition ranges."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pipeline.export.metadata import AcquisitionRanges, build_metadata
from pipeline.nets.onnx import export_onnx
from tests.export import tiny

HU_BODY, HU_LESION = 40.0, 200.0
LEVEL = ((HU_LESION + HU_BODY) / 2 + 150.0) / 400.0  # halfway between body and lesion after the window
# array axes run L, I, A with 0.8, 2.5 and 1.1 mm voxels: 2.2 mm^3 a voxel
AFFINE = np.array([[-0.8, 0, 0, 10], [0, 0, 2.5, -5], [0, -1.1, 0, 30], [0, 0, 0, 1]])
RAS_SPACING = [0.8, 2.5, 1.1]  # the same voxels in RAS order (what the model's spec and ranges use)
SHAPE = (30, 26, 14)
CUBE_A = (slice(4, 14), slice(4, 12), slice(3, 8))  # 10 x 8 x 5 = 400 voxels = 0.88 mL
CUBE_B = (slice(18, 22), slice(16, 20), slice(8, 12))  # 4 x 4 x 4 = 64 voxels = 0.1408 mL


def two_cubes() -> tuple[np.ndarray, np.ndarray]:
    """A body in air with two bright cubes that do not touch; returns (HU volume, truth mask)."""
    volume = np.full(SHAPE, -1000.0, dtype=np.float32)
    volume[3:-3, 3:-3, 2:-2] = HU_BODY
    truth = np.zeros(SHAPE, dtype=np.uint8)
    truth[CUBE_A] = 1
    truth[CUBE_B] = 1
    volume[truth > 0] = HU_LESION
    return volume, truth


def write_nifti(path: Path, volume: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    nib.save(nib.Nifti1Image(volume.astype(np.int16), affine), path)
    return path


def ranges(spacing_min, spacing_max, shape_min=(10, 10, 5), shape_max=(200, 200, 100)) -> AcquisitionRanges:
    return AcquisitionRanges(source="test fingerprint (all)", cases=12, spacing_mm_min=list(spacing_min),
                             spacing_mm_max=list(spacing_max), shape_min=list(shape_min),
                             shape_max=list(shape_max), manufacturers=["x"])


def threshold_model(path: Path, spacing_mm=RAS_SPACING, acquisition: AcquisitionRanges | None = None) -> Path:
    """A threshold model (exact masks when ``spacing_mm`` is the input's) with ``acquisition`` ranges."""
    spec = tiny.spec(3, target_spacing_mm=list(spacing_mm))
    data = build_metadata("teacher", "0.0.0-test", "abc123", "run-1", spec, "test only", "0" * 64,
                          acquisition=acquisition)
    export_onnx(tiny.Threshold(3, level=LEVEL), path, 3, 1, list(spec.patch_size), 17, metadata=data)
    return path


def ct_series(folder: Path, hu: np.ndarray, pixel_spacing=(0.8, 0.8), slice_step: float = 2.5,
              modality: str = "CT") -> Path:
    """``hu`` (slices, rows, columns) as a minimal axial CT series (one file per slice)."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for index, plane in enumerate(hu):
        ds = Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Cubes", "T1", "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20260101", "120000", "A1", "1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "test"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, index + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(index * slice_step)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [float(v) for v in pixel_spacing]
        ds.SliceThickness = slice_step
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(plane.astype(np.int16)).tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.save_as(folder / f"{index:03d}.dcm", enforce_file_format=True)
    return folder
