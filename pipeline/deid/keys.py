"""The secret pseudonymization key: read from a file or an environment variable, never shown.

The key is held in a ``SecretKey`` whose ``repr`` hides it, so an accidental log line or
exception message cannot print it. The demo key is created on first use with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pipeline.core.errors import UserError

MIN_KEY_BYTES = 16


class SecretKey:
    """Key bytes that never appear in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) < MIN_KEY_BYTES:
            raise UserError(f"the de-identification key is too short: need at least {MIN_KEY_BYTES} bytes")
        self._value = value

    def reveal(self) -> bytes:
        """The key bytes, for the HMAC only."""
        return self._value

    def __repr__(self) -> str:
        return "SecretKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self):  # picklable for worker processes, still never printed
        return (SecretKey, (self._value,))


def load_key(key_file: Path | None, env: dict[str, str], env_name: str, create: bool) -> SecretKey:
    """The key from ``env[env_name]`` if set, else from ``key_file`` (created when ``create``).

    Args:
        key_file: path of the key file (text; surrounding whitespace ignored).
        env: the environment to look in (pass ``os.environ``; tests pass a dict).
        env_name: the environment variable that may hold the key.
        create: create a random key file (mode 0600) when it does not exist.
    """
    value = env.get(env_name)
    if value:
        return SecretKey(value.strip().encode())
    if key_file is None:
        raise UserError(f"no de-identification key: set {env_name} or pass --key-file FILE")
    key_file = Path(key_file)
    if not key_file.exists():
        if not create:
            raise UserError(f"key file {key_file} does not exist (create one with 32 random bytes, mode 0600)")
        create_key_file(key_file)
    return SecretKey(key_file.read_bytes().strip())


def create_key_file(path: Path) -> None:
    """Write a new random key (64 hex characters) readable by the owner only.

    Args:
        path: where the key goes; must be a git-ignored place such as ``.secrets/``.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
