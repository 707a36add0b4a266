"""``python -m pipeline release approve | revoke | verify | verify-files | tag | verify-tag | diff``
and ``soup review | audit``.

``verify`` prints one line per missing, invalid, revoked or stale signature and exits 1 when
there is any; user mistakes (an unregistered signer, a draft release, a bad key) exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core.errors import UserError

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
    files = rsub.add_parser("verify-files", help="recipient check: every file of a release folder is the "
                            "signed one, and the required roles signed it with trusted keys")
    files.add_argument("release", metavar="RELEASE_DIR", help="the release folder (holds manifest.json)")
    files.add_argument("--keys", required=True, help="trusted approvers file (format of governance/approvers.yaml), "
                       "obtained apart from the release")
    files.add_argument("--policy", required=True, help="trusted release policy (format of governance/policy.yaml)")
    files.add_argument("--approvals", required=True, help="the approval records shipped with the release "
                       "(governance/approvals at the release tag)")
    files.set_defaults(func=main_verify_files)
    tag = rsub.add_parser("tag", help="git tag -s the release commit with your SSH key (gpg.format=ssh)")
    tag.add_argument("name", metavar="NAME", help="the tag name, e.g. v1.2.0")
    tag.add_argument("--key", required=True, help="private key file (OpenSSH), registered in governance/approvers.yaml")
    tag.add_argument("--root", default=".", help="repository root")
    tag.set_defaults(func=main_tag)
    vtag = rsub.add_parser("verify-tag", help="git verify-tag against trusted approvers' keys")
    vtag.add_argument("name", metavar="TAG", help="the release tag")
    vtag.add_argument("--keys", required=True, help="trusted approvers file (format of governance/approvers.yaml)")
    vtag.add_argument("--repo", default=".", help="the git repository holding the tag")
    vtag.add_argument("--release", default=None, help="a release folder: the tag must name its manifest and commit")
    vtag.set_defaults(func=main_verify_tag)
    diff = rsub.add_parser("diff", help="what changed since the release recorded at a git revision")
    diff.add_argument("rev", metavar="REV", help="git revision of the previous release (tag, commit, HEAD~1)")
    diff.add_argument("--root", default=".", help="repository root")
    diff.add_argument("--out", default=None, help="output folder (default: changes/ in paths.release)")
    diff.set_defaults(func=main_diff)
    soup = sub.add_parser("soup", help="SOUP governance: record a known-anomaly review, audit vulnerabilities")
    ssub = soup.add_subparsers(dest="soup_command", required=True, metavar="ACTION")
    review = ssub.add_parser("review", help="record who reviewed a SOUP item's anomaly list, "
                             "for which version, with what outcome")
    review.add_argument("name", metavar="NAME", help="the package as pinned in requirements.lock")
    review.add_argument("--outcome", required=True, help="the outcome of the review")
    _signer(review, role_required=False)
    review.set_defaults(func=main_soup_review)
    audit = ssub.add_parser("audit", help="check every locked SOUP version against PyPI's published "
                            "vulnerabilities (OSV) and record it in governance/soup_audit.json")
    audit.add_argument("--root", default=".", help="repository root")
    audit.set_defaults(func=main_soup_audit)


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


def main_verify_files(args: argparse.Namespace) -> int:
    """Check a release folder and its signatures against trusted keys; exit 1 on any problem."""
    from pipeline.governance.authenticity import inside, verify_copy
    from pipeline.governance.registry import load_trusted

    release = Path(args.release)
    for given, what in ((args.keys, "--keys"), (args.policy, "--policy")):
        if release.is_dir() and inside(Path(given), release):
            raise UserError(f"{what} {given} lies inside the release folder {release}: a trust anchor "
                            "must be obtained apart from what it checks")
    approvers, policy = load_trusted(Path(args.keys), Path(args.policy))
    report = verify_copy(release, Path(args.approvals), approvers, policy, str(args.keys))
    for finding in report.findings:
        print(finding.line())
    if report.findings:
        print(f"release verify-files: {len(report.findings)} problem(s); do not use this release")
        return EXIT_NOT_APPROVED
    print(f"release verify-files: {report.files} file(s) match manifest.json (sha256 {report.manifest_sha256}), "
          f"signed by {', '.join(report.signed_by)} with keys from {args.keys}"
          + (f"; not covered by the signatures (they show them): {', '.join(report.unsigned)}"
             if report.unsigned else ""))
    return 0


def main_tag(args: argparse.Namespace) -> int:
    """Sign a release tag."""
    from pipeline.governance.tags import tag_release

    check = tag_release(Path(args.root), args.name, Path(args.key))
    print(f"release tag: {check.tag} {check.detail} (release commit {check.release_commit}, "
          f"manifest sha256 {check.manifest_sha256}); push it: git push origin {check.tag}")
    return 0


def main_verify_tag(args: argparse.Namespace) -> int:
    """Verify a release tag's signature; exit 1 when it is missing, unsigned, bad or another release's."""
    import hashlib

    from pipeline.governance.authenticity import MANIFEST_NAME, inside
    from pipeline.governance.manifest import load_manifest
    from pipeline.governance.registry import load_trusted_keys
    from pipeline.governance.tags import check_tag

    sha = commit = None
    if args.release:
        manifest = Path(args.release) / MANIFEST_NAME
        if not manifest.is_file():
            raise UserError(f"{args.release} is not a release folder: it holds no {MANIFEST_NAME}")
        if inside(Path(args.keys), Path(args.release)):
            raise UserError(f"--keys {args.keys} lies inside the release folder: obtain it apart from the release")
        sha, commit = hashlib.sha256(manifest.read_bytes()).hexdigest(), load_manifest(manifest).git_commit
    check = check_tag(Path(args.repo), args.name, load_trusted_keys(Path(args.keys)))
    problems = check.problems(sha, commit)
    for line in problems:
        print(line)
    if problems:
        print(f"release verify-tag: {check.tag} does not authenticate the release")
        return EXIT_NOT_APPROVED
    print(f"release verify-tag: {check.tag} {check.detail}, release commit {check.release_commit}, "
          f"manifest sha256 {check.manifest_sha256}")
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


def main_soup_audit(args: argparse.Namespace) -> int:
    """Query PyPI for every pin, write the record, list what needs an evaluation."""
    from pipeline.core.atomic import write_json
    from pipeline.core.provenance import file_sha256
    from pipeline.governance import pypi, soup_evaluations
    from pipeline.governance.soup_audit import AUDIT, audit
    from pipeline.governance.soup_review import LOCK, read_pins

    root = Path(args.root)
    record = audit(read_pins(root / LOCK), pypi.fetch, str(LOCK), file_sha256(root / LOCK))
    write_json(root / AUDIT, record.model_dump())
    evaluations = soup_evaluations.load(root).evaluations
    uncovered = [p for p in record.packages if p.status == "not covered"]
    print(f"soup audit: {root / AUDIT}: {len(record.packages)} package(s), {len(uncovered)} not covered, "
          f"{len(record.findings)} finding(s) ({record.date})")
    for finding in record.findings:
        done = soup_evaluations.evaluation_of(finding, evaluations)
        state = f"evaluated: affects the device: {done.affects_device}" if done else "NOT EVALUATED"
        print(f"  {finding.package} {finding.version}: {finding.id} ({', '.join(finding.aliases)}) "
              f"fixed in {', '.join(finding.fixed_in) or 'no release'}: {state}")
    return 0


def _signer(parser: argparse.ArgumentParser, role_required: bool = True) -> None:
    parser.add_argument("--key", required=True, help="private key file (OpenSSH), as for git's user.signingkey")
    parser.add_argument("--signer", required=True, help="your name as registered in governance/approvers.yaml")
    parser.add_argument("--role", required=role_required, default=None,
                        help="the role you sign in (registered with your name)")
    parser.add_argument("--root", default=".", help="repository root")
