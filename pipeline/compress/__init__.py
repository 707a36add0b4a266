"""The compress stage: candidates (distilled students, INT8 variants) measured, one chosen."""
