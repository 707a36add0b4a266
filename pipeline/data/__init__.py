"""Data import: readers that turn DICOM series, MSD NIfTI and 2D image folders into cases."""
