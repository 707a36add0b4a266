"""``python -m pipeline monitor verify | review | summary``: the use log's commands.

``verify`` exits 1 naming the first record that breaks the hash chain; ``review`` appends a
reviewer's decision on a use (an unknown use is refused, exit 2); ``summary`` prints the
post-market plan's signals (and writes them as JSON with ``--json``), after verifying the chain.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

EXIT_BROKEN = 1
PLAN = Path("regulatory/pms.yaml")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``monitor`` command."""
    parser = sub.add_parser("monitor", help="post-market monitoring: verify the use log, record reviews, summarise")
    msub = parser.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    verify = msub.add_parser("verify", help="check the use log's hash chain; exit 1 naming the first broken record")
    _log_option(verify)
    verify.set_defaults(func=main_verify)
    review = msub.add_parser("review", help="record the reviewer's decision on one use")
    review.add_argument("use_id", metavar="USE_ID", help="the use's ID (printed by predict, in its JSON report)")
    review.add_argument("--decision", required=True, choices=("accepted", "corrected", "rejected"))
    review.add_argument("--reviewer", required=True, help="the reviewer's name or staff ID (never a patient's)")
    review.add_argument("--comment", default="", help="optional comment (no patient identity)")
    _log_option(review)
    review.set_defaults(func=main_review)
    summary = msub.add_parser("summary", help="the post-market plan's signals per model, site and month")
    _log_option(summary)
    summary.add_argument("--plan", default=str(PLAN), help="the post-market plan (input signals and their shares)")
    summary.add_argument("--json", default=None, metavar="PATH", help="also write the summary as JSON here")
    summary.set_defaults(func=main_summary)


def main_verify(args: argparse.Namespace) -> int:
    """Print the chain's state; exit 1 at the first broken record."""
    from pipeline.monitoring import logfile

    log = _log(args)
    result = logfile.check_chain(log)
    if not result.ok:
        print(f"monitor verify: {log}: line {result.broken_line}: {result.reason} "
              f"({result.records} record(s) before it intact)")
        return EXIT_BROKEN
    print(f"monitor verify: {log}: {result.records} record(s), chain intact; last hash {result.last_hash}")
    return 0


def main_review(args: argparse.Namespace) -> int:
    """Append one decision, refusing an unknown use."""
    from pipeline.core.errors import UserError
    from pipeline.monitoring import logfile, records

    log = _log(args)
    if not log.is_file():
        raise UserError(f"use log {log} not found (--use-log or ${logfile.ENV})")

    def known_use(existing: list[dict]) -> None:
        if not any(r.get("kind") == "use" and r.get("use_id") == args.use_id for r in existing):
            raise UserError(f"use {args.use_id!r} is not in the use log {log}: give the use ID predict printed "
                            "(also in its JSON report, key use_id)")

    body = records.review_body(args.use_id, args.decision, args.reviewer, args.comment, records.utc_now())
    record = logfile.append(log, body, check=known_use)
    print(f"monitor review: use {args.use_id}: {args.decision} by {args.reviewer} (record {record['seq']} of {log})")
    return 0


def main_summary(args: argparse.Namespace) -> int:
    """Print (and optionally write) the signals."""
    from pipeline.core.atomic import write_json
    from pipeline.core.yaml_io import load_yaml
    from pipeline.monitoring import logfile, summary

    log = _log(args)
    plan = Path(args.plan)
    signals = summary.plan_signals(load_yaml(plan, "post-market plan")) if plan.is_file() else []
    result = summary.summarise(logfile.read(log), signals)
    if args.json:
        write_json(Path(args.json), result)
    print(f"monitor summary: {log}: {result['uses']} use(s), {result['reviews']} review(s), "
          f"{result['unreviewed_uses']} unreviewed; signals raised: {', '.join(result['signals_raised']) or 'none'}")
    for row in result["groups"]:
        flags = ", ".join(f"{sid} {v['flagged']}/{v['judged']}" + (" RAISED" if v["raised"] else "")
                          for sid, v in row["input_signals"].items())
        rate = "n/a" if row["rejection_rate"] is None else f"{row['rejection_rate']:.0%}"
        print(f"  {row['month']} {row['site']} model {row['model_sha256'][:12]}: {row['uses']} use(s), "
              f"intended-use warnings {row['intended_use_warnings']}, reviewed {row['reviewed']}, "
              f"rejected or corrected {rate}; {flags or 'no input signals'}")
    for line in result["not_computed"]:
        print(f"  not computed: {line}")
    return 0


def _log_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--use-log", default=None, metavar="PATH",
                        help="the use log (default: $PIPELINE_USE_LOG, else ~/.local/state/pipeline/use_log.jsonl)")


def _log(args: argparse.Namespace) -> Path:
    from pipeline.monitoring import logfile

    return Path(args.use_log) if args.use_log else logfile.default_path(dict(os.environ))
