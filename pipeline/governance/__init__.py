"""Release governance: signed approvals, revocations, change reports and SOUP reviews.

``python -m pipeline release approve | revoke | verify | verify-files | tag | verify-tag | diff``
and ``python -m pipeline soup review`` (see ``cli``). What a team writes by hand lives in the tracked folder ``governance/``:
``approvers.yaml`` (name, role and OpenSSH public key of each approver), ``policy.yaml`` (the
roles that must approve a release), ``change_rules.yaml`` (how a change is classified against the
predetermined change control plan); the commands write the signed records under
``governance/approvals/`` and ``governance/soup_reviews/``.

Decisions worth knowing:

- Signatures are OpenSSH signatures (``ssh-keygen -Y sign``, the format git uses for signed
  commits), so engineers sign with the keys they have (passphrases and ssh-agent included) and an
  auditor can check a record with ``ssh-keygen -Y verify`` alone.
- An approval signs the SHA-256 of ``release/manifest.json`` with signer, role, meaning and UTC
  time; an exact copy of the approved manifest is kept beside the record, so a file changed after
  approval is named even when the manifest was not re-rendered.
- The pages that show the approvals (``release/trace/approvals.html``,
  ``release/techfile/approvals.html``) are not listed in the manifest they sign: an approval never
  invalidates itself. Commits that only add approval records do not change the release's
  identity (``pipeline.core.provenance.head_commit``).
- A recipient checks a copy of the release with keys obtained apart from it (``authenticity``,
  ``release verify-files``): signature -> manifest SHA-256 -> every file's SHA-256. The release
  commit is signed as a git tag with an approver's SSH key and checked with ``git verify-tag``
  against an allowed-signers file generated from the trusted approvers (``tags``).
"""
