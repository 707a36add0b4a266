"""The repository's ``params.yaml`` paths, for tests that build a trace or a technical file over
a copy or a miniature of the repository (their records sit where the real ones do)."""

from pathlib import Path

from pipeline.params import repo_paths

REPO = Path(__file__).resolve().parents[1]
PATHS = repo_paths(REPO)
