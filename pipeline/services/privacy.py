"""What never leaves the identified zone, read from ``dvc.yaml`` (its one home).

An output that holds identified data carries ``push: false`` in ``dvc.yaml``: ``dvc push``
skips it for every remote, so the raw cohort and the de-identification quarantine stay on the
machine that produced them. The de-identification key lives in ``.secrets/`` (git-ignored, no
DVC output), so neither git nor DVC can carry it. ``make services-up`` refuses to configure the
team remote while an output of the identified stages could still be pushed.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.dvc_yaml import read_pipeline
from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml

# The outputs that hold identified data (fields of params.yaml's ``paths``): the raw cohort and
# the de-identifier's quarantine (files refused because they could not be cleaned).
IDENTIFIED_OUTPUTS = ("raw", "deid_quarantine")


def unpushed_outputs(dvc_yaml: Path) -> list[str]:
    """Every output of ``dvc.yaml`` marked ``push: false``."""
    return sorted(path for _, path, options in _outputs(dvc_yaml) if options.get("push") is False)


def shareable_outputs(repo: Path) -> list[str]:
    """The outputs recorded in ``dvc.lock`` that may be pulled from the team remote: all but
    those marked ``push: false`` (which are never there)."""
    lock_path = Path(repo) / "dvc.lock"
    if not lock_path.is_file():
        raise UserError(f"{lock_path} not found: nothing has been run and pushed yet")
    never = set(unpushed_outputs(Path(repo) / "dvc.yaml"))
    lock = yaml.safe_load(lock_path.read_text()) or {}
    recorded = {out["path"] for stage in (lock.get("stages") or {}).values()
                for out in stage.get("outs") or [] if "md5" in out}
    return sorted(recorded - never)


def check_identified_outputs(dvc_yaml: Path) -> list[str]:
    """The identified outputs, all ``push: false``; raise naming any that could be pushed."""
    marked = set(unpushed_outputs(dvc_yaml))
    paths = (load_yaml(Path(dvc_yaml).parent / "params.yaml", "params file").get("paths") or {})
    wanted = [str(paths.get(name, f"<paths.{name} missing from params.yaml>")) for name in IDENTIFIED_OUTPUTS]
    missing = [path for path in wanted if path not in marked]
    if missing:
        raise UserError(f"{dvc_yaml}: identified outputs {', '.join(missing)} lack `push: false`; "
                        "`dvc push` would copy them into shared storage")
    return wanted


def _outputs(dvc_yaml: Path):
    if not Path(dvc_yaml).is_file():
        raise UserError(f"{dvc_yaml} not found: run from the repository root or pass --repo")
    stages = read_pipeline(Path(dvc_yaml)).get("stages", {})
    for name, stage in stages.items():
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                if isinstance(entry, str):
                    yield name, entry, {}
                else:
                    for path, options in entry.items():
                        yield name, path, options or {}
