"""``python -m pipeline techfile``: render the technical file and the release manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.params import load_params

STAGE = "techfile"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="render the technical file (HTML, PDF, SBOM) and manifest")
    parser.add_argument("--root", default=".", help="repository root holding the recorded run")
    parser.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pipeline.techfile import stage  # heavy imports only once params are valid
    from pipeline.techfile.context import TechfilePaths

    params = load_params(Path(args.params))
    start = time.perf_counter()
    result = stage.run(params.techfile, TechfilePaths(Path(args.root)),
                       params.model_dump(mode="json"), pdf=not args.no_pdf)
    seconds = time.perf_counter() - start
    print(f"techfile: {result['html']}" + (f", {result['pdf']}" if result["pdf"] else "")
          + f"; manifest lists {result['files']} file(s); release status: {result['status']} "
          f"({seconds:.1f} s)")
    for reason in result["reasons"]:
        print(f"  not releasable: {reason}")
    return 0
