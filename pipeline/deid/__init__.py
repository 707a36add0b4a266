"""The deid stage: DICOM PS3.15 Annex E de-identification with keyed pseudonyms, and an independent
leak check (``leakcheck.py`` shares no code with the de-identifier)."""
