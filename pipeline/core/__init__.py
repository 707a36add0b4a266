"""The shared core every stage stands on: user errors, the strict params base model, atomic
outputs, progress bars, provenance (git commit, dvc.lock hashes, SHA-256), the MLflow stage
run, bootstrap intervals and interleaved timings. Nothing here knows about a stage."""
