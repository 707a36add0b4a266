"""``python -m pipeline profile NAME``: write ``params.yaml`` for a data profile (``profiles/NAME.yaml``).

``--list`` names the profiles and the active one; ``--repro-args`` prints the ``dvc repro``
arguments of the active profile (``make repro`` uses them: the stages before the one its data
enters at are not run). The new ``params.yaml`` is validated before anything is written; the
kept base is written before ``params.yaml``, each atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.params import params_file
from pipeline.core.dvc_yaml import read_pipeline
from pipeline.core.yaml_io import load_yaml
from pipeline.profile.overlay import (BASE_FILE, active_profile, entry_source, missing_inputs, parse_profile,
                                      repro_args, skipped_stages, switch)

FOLDER = Path("profiles")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("profile", help="select a data profile: write params.yaml from profiles/NAME.yaml")
    parser.add_argument("name", nargs="?", help="the profile (profiles/NAME.yaml); demo restores the base")
    parser.add_argument("--profiles", type=Path, default=None, help="the profiles folder (default: profiles/ "
                        "beside params.yaml)")
    parser.add_argument("--force", action="store_true", help="discard edits made to params.yaml since its "
                        "profile wrote it")
    parser.add_argument("--list", action="store_true", help="list the profiles and the active one")
    parser.add_argument("--repro-args", action="store_true", help="print the active profile's dvc repro arguments")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = params_file(args)
    folder = args.profiles or params.parent / FOLDER
    if not params.is_file():
        raise UserError(f"{params} not found: run from the repository root or pass --params PATH")
    text = params.read_text(encoding="utf-8")
    active = active_profile(text) or "demo"
    if args.repro_args:
        if active_profile(text) is not None:
            profile = parse_profile(_read(folder, active), active)[0]
            _check_inputs(params, profile, active)
            print(" ".join(repro_args(profile)))
        return 0
    profiles = {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.yaml"))
                if p.name != BASE_FILE}
    if args.list or not args.name:
        for name, body in profiles.items():
            profile = parse_profile(body, name)[0]
            print(f"{'*' if name == active else ' '} {name:<12} {profile.description}")
        return 0
    base_path = folder / BASE_FILE
    kept = base_path.read_text(encoding="utf-8") if base_path.is_file() else None
    result = switch(text, kept, profiles, args.name, force=args.force)
    if result.params_text == text:
        print(f"{params}: already profile {args.name}, nothing changed")
        return 0
    if result.base_text is not None and kept is None:  # keep the base before params.yaml changes
        with atomic_file(base_path, shared=True) as handle:
            handle.write(result.base_text)
    with atomic_file(params, shared=True) as handle:
        handle.write(result.params_text)
    if result.base_text is None and base_path.exists():
        base_path.unlink()
    print(f"{params}: profile {active} -> {args.name} ({len(result.changes)} setting(s) changed)")
    for line in result.changes:
        print(f"  {line}")
    return 0


def _check_inputs(params: Path, profile, name: str) -> None:
    """Refuse, in one line, a run DVC could not make: the profile's data folder is not there, or a
    stage of the run declares an input that only a skipped stage writes and it is absent."""
    root = params.parent
    pipeline = read_pipeline(root / "dvc.yaml", params)
    source = entry_source(profile, load_yaml(params, "params file") or {})
    if source is not None and not (root / source[1]).exists():  # before DVC starts, with the setting
        raise UserError(f"profile {name}: {source[0]} = {source[1]} does not exist (relative to the repository "
                        f"root {root}); set it in profiles/{name}.yaml")
    missing = missing_inputs(pipeline, profile, lambda rel: (root / rel).exists())
    if missing:
        raise UserError(f"profile {name} skips {', '.join(skipped_stages(profile))}, but dvc.yaml still declares "
                        f"their outputs as inputs of later stages and DVC cannot run a stage whose declared input "
                        f"is absent: {', '.join(missing)}; declare the stage's data input through the profile's settings "
                        f"(as preprocess's is: ${{preprocess.source.path}}), or run the demo once (make repro PROFILE=demo)")


def _read(folder: Path, name: str) -> str:
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"params.yaml names profile {name} but {path} is missing")
    return path.read_text(encoding="utf-8")
