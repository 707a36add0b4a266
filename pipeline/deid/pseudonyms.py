"""Keyed pseudonyms: HMAC-SHA256 of the key over a labelled value.

Same key and same input give the same pseudonym, UID and date offset on every run and
machine; without the key the mapping can be neither reversed nor recomputed, and a different
key gives unlinkable output. Every derivation uses its own label so values never collide
across kinds (a patient ID and a UID with the same text get unrelated outputs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pipeline.deid.keys import SecretKey

UID_MAX_LENGTH = 64


class Pseudonymizer:
    """All keyed derivations of one run, with a UID cache (UIDs repeat across files)."""

    def __init__(self, key: SecretKey, uid_root: str, prefix: str, offset_range: tuple[int, int]) -> None:
        """
        Args:
            key: the secret key.
            uid_root: the root of new UIDs, e.g. ``"2.25"`` or an organisation root.
            prefix: the pseudonym prefix, e.g. ``"SUBJ-"``.
            offset_range: inclusive [low, high] of per-patient date offsets in days.
        """
        self._key = key.reveal()
        self._root = uid_root
        self._digits = min(39, UID_MAX_LENGTH - len(uid_root) - 1)
        self._prefix = prefix
        self._low, self._high = offset_range
        self._uids: dict[str, str] = {}

    def patient(self, patient_key: str) -> str:
        """A stable pseudonym for a patient (used as PatientID and PatientName).

        Args:
            patient_key: the identity the patient is known by in the input.
        """
        digest = self._mac("patient", patient_key)
        return self._prefix + base64.b32encode(digest[:10]).decode().rstrip("=")

    def uid(self, value: str) -> str:
        """The replacement of a UID under the configured root (cached)."""
        found = self._uids.get(value)
        if found is None:
            number = int.from_bytes(self._mac("uid", value), "big") % 10**self._digits
            found = f"{self._root}.{number}"
            self._uids[value] = found
        return found

    def date_offset(self, patient_key: str) -> int:
        """The patient's date offset in days, uniform in the configured range."""
        span = self._high - self._low + 1
        return self._low + int.from_bytes(self._mac("date", patient_key)[:8], "big") % span

    def dummy(self, label: str, value: str) -> str:
        """A short keyed token for dummy identifiers (e.g. an accession number)."""
        return base64.b32encode(self._mac(label, value)[:5]).decode()

    def _mac(self, label: str, value: str) -> bytes:
        return hmac.new(self._key, f"{label}\x00{value}".encode(), hashlib.sha256).digest()
