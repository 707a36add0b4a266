"""``python -m pipeline predict MODEL.onnx INPUT OUTPUT``: segment one image with a released model.

Each run appends one record to the use log (``pipeline.monitoring``): ``--use-log``, else
``$PIPELINE_USE_LOG``, else ``~/.local/state/pipeline/use_log.jsonl``. The log is checked before any
work, so a run that cannot be logged does not run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.runtime.engines import RUNTIMES


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict", help="segment a DICOM series folder, a NIfTI file or a 2D image with an ONNX model",
        description="Checks the model's SHA-256 (MODEL.onnx.sha256), preprocesses as in training, runs "
                    "sliding-window inference on the runtime the model file records (chosen by "
                    "measurement) and writes the mask on the input's grid, with a JSON report of each "
                    "connected lesion's volume (mL). The input is first checked against the intended use "
                    "(DICOM modality; voxel spacing and image size within the ranges the model file "
                    "carries) by the rule in pipeline/predict/data/intended_use.yaml.")
    parser.add_argument("model", help="the .onnx file (compressed.onnx or teacher.onnx of a release)")
    parser.add_argument("input", help="a DICOM series folder, a .nii/.nii.gz file or a 2D image")
    parser.add_argument("output", help="*.nii.gz / *.nii, *.dcm (DICOM SEG, DICOM input) or *.png (2D input)")
    parser.add_argument("--threads", type=int, default=2, help="runtime threads")
    parser.add_argument("--runtime", default=None, choices=RUNTIMES,
                        help="run on this runtime instead of the one the model records (not the verified one)")
    parser.add_argument("--pixel-spacing", type=float, default=None,
                        help="pixel size in mm of a 2D image (default: the model's target spacing)")
    parser.add_argument("--voxel-spacing", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                        help="voxel size in mm of a NIfTI file that records no geometry (qform and sform codes 0)")
    parser.add_argument("--sha256", default=None, help="require this SHA-256 instead of the sidecar's")
    parser.add_argument("--report", default=None, metavar="PATH",
                        help="the JSON report of lesion volumes (default: OUTPUT with its mask suffix "
                             "replaced by .json, e.g. mask.nii.gz -> mask.json)")
    parser.add_argument("--outside-intended-use", action="store_true",
                        help="run even where the input is outside the intended use (not validated: "
                             "printed as a warning and recorded in the report)")
    parser.add_argument("--use-log", default=None, metavar="PATH",
                        help="the use log this run appends to (JSON Lines, hash-chained; default: "
                             "$PIPELINE_USE_LOG, else ~/.local/state/pipeline/use_log.jsonl)")
    parser.add_argument("--site", default=os.environ.get("PIPELINE_SITE"), metavar="LABEL",
                        help="the deployment site's label recorded in the use log (default: $PIPELINE_SITE)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import uuid

    from pipeline.monitoring import logfile
    from pipeline.predict.run import predict

    log = Path(args.use_log) if args.use_log else logfile.default_path(dict(os.environ))
    logfile.check_appendable(log)
    use_id = uuid.uuid4().hex
    summary = predict(Path(args.model), Path(args.input), Path(args.output), threads=args.threads,
                      pixel_spacing_mm=args.pixel_spacing, expected_sha256=args.sha256, runtime=args.runtime,
                      voxel_spacing_mm=tuple(args.voxel_spacing) if args.voxel_spacing else None,
                      report_path=Path(args.report) if args.report else None,
                      outside_intended_use=args.outside_intended_use, use_id=use_id)
    record = _log_use(log, summary, use_id, args.site)
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    volume = f"{summary['volume_ml']:.3f} mL" if summary["volume_ml"] is not None else "2D"
    print(f"predict: {summary['runtime']}: {summary['format']} mask {summary['input_shape']} -> {summary['output']} "
          f"({summary['foreground_voxels']} foreground voxels, {summary['lesions']} lesion(s), {volume}, "
          f"{summary['seconds']} s); report {summary['report']}")
    print(f"predict: use {use_id} logged in {log} (record {record['seq']})")
    return 0


def _log_use(log: Path, summary: dict, use_id: str, site: str | None) -> dict:
    """Append the use record; a failure names what was written and what was not."""
    from pipeline.core.errors import UserError
    from pipeline.core.provenance import file_sha256
    from pipeline.monitoring import logfile, records

    body = records.use_body(summary, summary["observed"], use_id=use_id, time=records.utc_now(), site=site,
                            report_sha256=file_sha256(Path(summary["report"])))
    try:
        return logfile.append(log, body)
    except (UserError, OSError) as exc:
        raise UserError(f"the mask {summary['output']} and report {summary['report']} were written, but "
                        f"use {use_id} was not logged: {exc}") from None
