"""Ground truth as a DICOM Segmentation object (highdicom).

Why DICOM SEG rather than NIfTI: a SEG references its source series by UID and carries
the same patient and study, so it passes through de-identification together with the
images, and the link between a mask and its CT survives pseudonymization (the UIDs are
remapped consistently). A NIfTI label beside the DICOM would be linked only by a file
name, which de-identification must change.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

TARGET_LABEL = "lesion"


def segmentation(
    source: list[Dataset],
    mask: np.ndarray,
    series_uid: str,
    sop_uid: str,
    dimension_uid: str,
    manufacturer: str,
) -> Dataset:
    """A binary SEG of ``mask`` (slices, rows, columns) over the CT ``source`` slices.

    highdicom stamps creation and contribution times and a random dimension-organization UID; both are
    replaced by values derived from the study so that the same seed gives the same bytes.
    """
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=TARGET_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=source,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=series_uid,
        series_number=300,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name="SYNTH ANNOTATOR",
        software_versions="1.0",
        device_serial_number="ANN-0001",
        content_label="GROUNDTRUTH",
        content_description="Expert lesion contour",
        content_creator_name=source[0].ReferringPhysicianName,
        omit_empty_frames=False,
    )
    seg.SeriesDescription = f"Lesion ground truth {source[0].PatientName.family_name}"
    _pin_volatile(seg, dimension_uid, source[0].StudyDate, source[0].StudyTime)
    return seg


def _pin_volatile(seg: Dataset, dimension_uid: str, date: str, time: str) -> None:
    seg.InstanceCreationDate = seg.ContentDate = seg.SeriesDate = date
    seg.InstanceCreationTime = seg.ContentTime = seg.SeriesTime = time
    for item in seg.iterall():
        if item.keyword == "DimensionOrganizationUID":
            item.value = dimension_uid
        elif item.keyword == "ContributionDateTime":
            item.value = date + time
