"""The preprocess stage: resample, reorient, normalise and crop cases; fingerprint; splits."""
