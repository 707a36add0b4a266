"""``python -m pipeline.services up|down|status|pull|user add NAME`` (``make services-up``).

A thin wrapper over :mod:`pipeline.services.stack`: mistakes a user can fix (a missing
PostgreSQL, a busy port, a bad user name) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.errors import UserError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.services",
                                     description="The team services (PostgreSQL, SeaweedFS S3, "
                                                 "MLflow with basic auth) on loopback addresses.")
    parser.add_argument("--dir", default=".services", type=Path,
                        help="state folder (default .services, git-ignored)")
    parser.add_argument("--repo", default=".", type=Path,
                        help="repository whose DVC remote `team` is configured (default .)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="start every service (idempotent), write DIR/env")
    up.add_argument("--user", help="the person DIR/env is for (default: login name)")
    sub.add_parser("down", help="stop every service (state is kept)")
    sub.add_parser("status", help="which services run; exit 0 only when all do")
    sub.add_parser("pull", help="dvc pull -r team of every shareable output in dvc.lock "
                                "(a teammate's clone; source the env file first)")
    user = sub.add_parser("user", help="manage people")
    user_sub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create a person's MLflow user and S3 key, "
                                          "write DIR/users/NAME.env")
    add.add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.services import stack

    try:
        if args.command == "up":
            lines = stack.up(args.dir, args.repo, args.user)
        elif args.command == "down":
            lines = stack.down(args.dir)
        elif args.command == "status":
            running = stack.status(args.dir)
            for name, up in running.items():
                print(f"{name}: {'running' if up else 'stopped'}")
            return 0 if all(running.values()) else 1
        elif args.command == "pull":
            from pipeline.services import dvc_remote

            lines = dvc_remote.pull(args.repo)
        else:
            lines = [f"user {args.name}: env file {stack.add_user(args.dir, args.name)}"]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    for line in lines:
        print(line)
    return 0
