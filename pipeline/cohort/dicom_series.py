"""Write one synthetic CT series (and a dose-report screen capture) as real DICOM files.

Identifiers are placed where de-identification tools are known to miss them: names in
free text, ``OtherPatientIDsSequence``, ``RequestAttributesSequence``,
``ReferencedStudySequence``, and a private block that copies the name and ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from pipeline.cohort.identity import PatientIdentity

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
PRIVATE_CREATOR = "SYNTH PACS 1.0"
HU_OFFSET = 1024  # stored = HU + 1024, RescaleIntercept = -1024


@dataclass(frozen=True)
class StudyInfo:
    """Identifiers shared by every series of one study."""

    patient: PatientIdentity
    study_uid: str
    study_date: str
    study_time: str
    accession: str
    study_id: str
    referenced_study_uid: str
    frame_of_reference_uid: str
    institution: str
    site_address: str
    station: str
    manufacturer: str
    model: str
    serial: str


def ct_slices(
    study: StudyInfo,
    hu: np.ndarray,
    positions: list[tuple[float, float, float]],
    pixel_spacing: tuple[float, float],
    slice_thickness: float,
    series_uid: str,
    sop_uids: list[str],
) -> list[Dataset]:
    """One ``Dataset`` per slice of ``hu`` (slices, rows, columns), in the order given.

    ``positions`` are the ImagePositionPatient of each slice; InstanceNumber follows the order.
    """
    stored = np.clip(np.rint(hu) + HU_OFFSET, 0, 4095).astype(np.uint16)
    header = _encoded(_patient_study_series(study, series_uid, "CT", 2, f"CT ABDOMEN {study.patient.person.family}"))
    slices = []
    for index, (plane, position, sop_uid) in enumerate(zip(stored, positions, sop_uids)):
        ds = Dataset()
        for element in header:
            ds.add(element)
        ds.set_original_encoding(False, True, convert_encodings(ds.SpecificCharacterSet))  # write raw as is
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = index + 1
        ds.AcquisitionDate = ds.ContentDate = study.study_date
        ds.AcquisitionTime = ds.ContentTime = _later(study.study_time, 60 + index)
        ds.AcquisitionDateTime = study.study_date + ds.AcquisitionTime
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = _ds(position[2])
        ds.PositionReferenceIndicator = "XY"
        ds.SliceThickness = _ds(slice_thickness)
        ds.PixelSpacing = [_ds(pixel_spacing[0]), _ds(pixel_spacing[1])]
        ds.KVP = 120
        ds.ImageComments = f"Scanned for {study.patient.person.plain}, MRN {study.patient.patient_id}"
        ds.BurnedInAnnotation = "NO"
        _pixels(ds, plane, bits_stored=12)
        ds.RescaleIntercept = -HU_OFFSET
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        slices.append(ds)
    return slices


def dose_report(study: StudyInfo, series_uid: str, sop_uid: str, ctdi: float) -> Dataset:
    """A secondary-capture dose screen with the patient's name and ID drawn into the pixels."""
    ds = _patient_study_series(study, series_uid, "CT", 900, "DOSE REPORT")
    ds.SOPClassUID = SECONDARY_CAPTURE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.ImageType = ["DERIVED", "SECONDARY", "DOSE_INFO"]
    ds.ConversionType = "WSD"
    ds.InstanceNumber = 1
    ds.ContentDate = study.study_date
    ds.ContentTime = _later(study.study_time, 900)
    ds.BurnedInAnnotation = "YES"
    lines = [
        study.patient.person.dicom_name,
        f"ID {study.patient.patient_id}  DOB {study.patient.birth_date}",
        f"{study.institution}",
        f"{study.study_date} {study.study_time[:4]}  ACC {study.accession}",
        f"CTDIvol {ctdi:.1f} mGy",
    ]
    _pixels(ds, _text_image(lines, 256, 256), bits_stored=8)
    return ds


def write(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as a DICOM Part 10 file with explicit VR little endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "SYNTH_COHORT"
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _patient_study_series(study: StudyInfo, series_uid: str, modality: str, number: int, desc: str) -> Dataset:
    p = study.patient
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyDate = ds.SeriesDate = study.study_date
    ds.StudyTime = study.study_time
    ds.SeriesTime = _later(study.study_time, 30 * number)
    ds.AccessionNumber = study.accession
    ds.Modality = modality
    ds.Manufacturer = study.manufacturer
    ds.InstitutionName = study.institution
    ds.InstitutionAddress = study.site_address
    ds.ReferringPhysicianName = p.referring.dicom_name
    ds.ReferringPhysicianTelephoneNumbers = "06221 " + p.phone[-6:]
    ds.StationName = study.station
    ds.StudyDescription = f"CT liver follow-up {p.person.plain}"
    ds.SeriesDescription = desc
    ds.InstitutionalDepartmentName = "Radiology"
    ds.PerformingPhysicianName = p.performing.dicom_name
    ds.OperatorsName = p.operator.dicom_name
    ds.ManufacturerModelName = study.model
    ds.ReferencedStudySequence = Sequence([_ref(DETACHED_STUDY_MANAGEMENT, study.referenced_study_uid)])
    ds.PatientName = p.person.dicom_name
    ds.PatientID = p.patient_id
    ds.IssuerOfPatientID = study.institution
    ds.PatientBirthDate = p.birth_date
    ds.PatientSex = p.sex
    ds.OtherPatientIDs = list(p.other_ids)
    ds.OtherPatientIDsSequence = Sequence([_other_id(i, study.institution) for i in p.other_ids])
    ds.PatientAge = f"{p.age_years:03d}Y"
    ds.PatientSize = _ds(p.size_m)
    ds.PatientWeight = _ds(p.weight_kg)
    ds.PatientAddress = p.address
    ds.PatientTelephoneNumbers = p.phone
    ds.AdditionalPatientHistory = f"{p.person.plain} (born {p.birth_date}) referred by Dr {p.referring.family.title()}"
    ds.PatientComments = f"Contact {p.phone}"
    ds.BodyPartExamined = "ABDOMEN"
    ds.DeviceSerialNumber = study.serial
    ds.SoftwareVersions = "SYNTH 1.0"
    ds.ProtocolName = f"ABD LIVER {p.person.family}"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = study.study_id
    ds.SeriesNumber = number
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.RequestAttributesSequence = Sequence([_request(study)])
    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", p.person.dicom_name)
    block.add_new(0x02, "LO", p.patient_id)
    block.add_new(0x03, "DA", p.birth_date)
    block.add_new(0x04, "LT", f"Workstation note: {p.person.plain} {p.phone}")
    return ds


def _encoded(ds: Dataset) -> list[DataElement | RawDataElement]:
    """The elements of ``ds`` encoded once (explicit VR little endian) and read back undecoded.

    Every slice of a series has the same patient, study and series header. Built per slice, it
    was most of the stage's work: pydicom sets each attribute through its dictionary lookup and
    encodes each value when the file is written. Undecoded (raw) elements are written as the bytes
    they hold (pydicom's ``set_original_encoding`` "to enable optimized writing"), so the slices
    share one encoding of the header and their files are the same bytes (``tests/cohort``). Raw
    elements are immutable, sequences included; a slice decodes its own copy of one when it is read
    (highdicom reads the slices for the SEG). 3 patients in one process under cProfile: 4.64 million
    calls and 17.1 s before, 3.27 million and 12.3 s after; 9 patients, interleaved x3 on the shared
    machine, CPU seconds: 7.53 before, 7.26 with the validation switch alone, 6.28 with both (medians).
    """
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, ds)
    buffer.seek(0)
    return list(read_dataset(buffer, is_implicit_VR=False, is_little_endian=True).elements())


def _request(study: StudyInfo) -> Dataset:
    item = Dataset()
    item.RequestedProcedureID = f"RP{study.accession[3:]}"
    item.ScheduledProcedureStepID = f"SPS{study.accession[3:]}"
    item.RequestedProcedureDescription = f"CT liver for {study.patient.person.plain}"
    item.AccessionNumber = study.accession
    item.StudyInstanceUID = study.study_uid
    block = item.private_block(0x0011, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", study.patient.patient_id)
    return item


def _ref(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def _other_id(value: str, issuer: str) -> Dataset:
    item = Dataset()
    item.PatientID = value
    item.IssuerOfPatientID = issuer
    item.TypeOfPatientID = "TEXT"
    return item


def _pixels(ds: Dataset, array: np.ndarray, bits_stored: int) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = array.shape
    ds.BitsAllocated = 16 if bits_stored > 8 else 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    dtype = np.uint16 if bits_stored > 8 else np.uint8
    # VR given, not looked up ("OB or OW"): a slice written with its header raw is not VR-corrected;
    # the VR pydicom's correction gives native pixel data in explicit VR
    ds.add_new(0x7FE00010, "OW" if ds.BitsAllocated > 8 else "OB", np.ascontiguousarray(array, dtype=dtype).tobytes())


def _text_image(lines: list[str], rows: int, columns: int) -> np.ndarray:
    image = Image.new("L", (columns, rows), color=16)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((8, 10 + 18 * number), line, fill=255)
    return np.asarray(image, dtype=np.uint8)


def _later(hhmmss: str, seconds: int) -> str:
    total = int(hhmmss[:2]) * 3600 + int(hhmmss[2:4]) * 60 + int(hhmmss[4:6]) + seconds
    total %= 24 * 3600
    return f"{total // 3600:02d}{total // 60 % 60:02d}{total % 60:02d}"


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters, the same on every machine."""
    return f"{value:.6g}"
