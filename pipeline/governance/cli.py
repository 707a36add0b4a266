"""``python -m pipeline release approve | revoke | verify | diff`` and ``soup review``.

``verify`` prints one line per missing, invalid, revoked or stale signature and exits 1 when
there is any; user mistakes (an unregistered signer, a draft release, a bad key) exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_NOT_APPROVED = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``release`` and ``soup`` commands."""
    parser = sub.add_parser("release", help="release governance: approve, revoke, verify, diff")
    rsub = parser.add_subparsers(dest="release_command", required=True, metavar="ACTION")
    approve = rsub.add_parser("approve", help="sign the SHA-256 of the release manifest (paths.manifest)")
    _signer(approve)
    approve.add_argument("--meaning", required=True, help='what the signature means, e.g. "approved for release"')
    approve.set_defaults(func=main_approve)
    revoke = rsub.add_parser("revoke", help="withdraw an approval, with the reason")
    revoke.add_argument("approval", help="the approval ID (file name in governance/approvals without .json)")
    _signer(revoke)
    revoke.add_argument("--reason", required=True, help="why the approval is withdrawn")
    revoke.set_defaults(func=main_revoke)
    verify = rsub.add_parser("verify", help="exit 0 only when every required role approved the current release")
    verify.add_argument("--root", default=".", help="repository root")
    verify.set_defaults(func=main_verify)
    diff = rsub.add_parser("diff", help="what changed since the release recorded at a git revision")
    diff.add_argument("rev", metavar="REV", help="git revision of the previous release (tag, commit, HEAD~1)")
    diff.add_argument("--root", default=".", help="repository root")
    diff.add_argument("--out", default=None, help="output folder (default: changes/ in paths.release)")
    diff.set_defaults(func=main_diff)
    soup = sub.add_parser("soup", help="SOUP governance: record a known-anomaly review")
    ssub = soup.add_subparsers(dest="soup_command", required=True, metavar="ACTION")
    review = ssub.add_parser("review", help="record who reviewed a SOUP item's anomaly list, "
                             "for which version, with what outcome")
    review.add_argument("name", metavar="NAME", help="the package as pinned in requirements.lock")
    review.add_argument("--outcome", required=True, help="the outcome of the review")
    _signer(review, role_required=False)
    review.set_defaults(func=main_soup_review)


def main_approve(args: argparse.Namespace) -> int:
    """Sign the current release."""
    from pipeline.governance.approvals import approve

    path = approve(Path(args.root), Path(args.key), args.signer, args.role, args.meaning)
    print(f"release approve: {path} ({args.signer}, {args.role}: {args.meaning})")
    return 0


def main_revoke(args: argparse.Namespace) -> int:
    """Withdraw one approval."""
    from pipeline.governance.approvals import revoke

    path = revoke(Path(args.root), args.approval, Path(args.key), args.signer, args.role, args.reason)
    print(f"release revoke: {path} ({args.approval} revoked by {args.signer}: {args.reason})")
    return 0


def main_verify(args: argparse.Namespace) -> int:
    """Print every finding; exit 1 when there is any."""
    from pipeline.governance.verify import approval_summary, verify_release

    findings = verify_release(Path(args.root))
    for finding in findings:
        print(finding.line())
    if findings:
        print(f"release verify: {len(findings)} problem(s); not approved")
        return EXIT_NOT_APPROVED
    summary = approval_summary(Path(args.root))
    print(f"release verify: manifest sha256 {summary['manifest_sha256']} approved by "
          + (", ".join(summary["approved_by"]) or "nobody (no role is required)"))
    return 0


def main_diff(args: argparse.Namespace) -> int:
    """Write the change report and print its summary."""
    from pipeline.governance.changes import write_report
    from pipeline.governance.diff import diff_release
    from pipeline.governance import paths

    root = Path(args.root)
    report = diff_release(root, args.rev)
    out = Path(args.out) if args.out else root / paths.release(root) / paths.CHANGES_NAME
    write_report(report, out)
    print(f"release diff: {out} ({report['summary']['changes']} change(s) since {report['from']['rev']} "
          f"({report['from']['commit'][:12]}); {report['summary']['new_submission']} need a new submission)")
    for change in report["changes"]:
        print(f"  {change['area']}: {change['id']}: {change['action']} [{change['classification']}]")
    return 0


def main_soup_review(args: argparse.Namespace) -> int:
    """Record one signed SOUP review."""
    from pipeline.governance.soup_review import record_review

    path = record_review(Path(args.root), args.name, args.outcome, args.signer, Path(args.key),
                         role=args.role)
    print(f"soup review: {path}")
    return 0


def _signer(parser: argparse.ArgumentParser, role_required: bool = True) -> None:
    parser.add_argument("--key", required=True, help="private key file (OpenSSH), as for git's user.signingkey")
    parser.add_argument("--signer", required=True, help="your name as registered in governance/approvers.yaml")
    parser.add_argument("--role", required=role_required, default=None,
                        help="the role you sign in (registered with your name)")
    parser.add_argument("--root", default=".", help="repository root")
