"""The embedded default data set: a synthetic multi-site CT cohort as real DICOM files."""
