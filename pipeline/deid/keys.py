"""The secret pseudonymization key: read from a file or an environment variable, never shown.

The key is held in a ``SecretKey`` whose ``repr`` hides it, so an accidental log line or
exception message cannot print it. The demo key is created on first use with mode 0600.

Where the key comes from, first match wins: an explicit ``--key-file`` (then the environment is
not looked at, and a missing or bad file is an error: asking for a file and silently getting
another key would give unlinkable pseudonyms without a word); else ``$PIPELINE_DEID_KEY``
(``deid.key_env``); else the stage's ``deid.key_file``. A user-supplied key must have at least
``MIN_KEY_BYTES`` bytes (an HMAC-SHA256 key shorter than its 32-byte output weakens it), and a
key file must be readable by its owner only (``chmod 600``).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pipeline.core.errors import UserError

MIN_KEY_BYTES = 32  # keys a user supplies (file or environment)
_FLOOR_BYTES = 16  # any SecretKey, including the fixed keys of tests and benchmarks


class SecretKey:
    """Key bytes that never appear in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) < _FLOOR_BYTES:
            raise UserError(f"the de-identification key is too short: need at least {_FLOOR_BYTES} bytes")
        self._value = value

    def reveal(self) -> bytes:
        """The key bytes, for the HMAC only."""
        return self._value

    def __repr__(self) -> str:
        return "SecretKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self):  # picklable for worker processes, still never printed
        return (SecretKey, (self._value,))


def load_key(key_file: Path | None, env: dict[str, str], env_name: str, create: bool,
             explicit: bool = False) -> SecretKey:
    """The key: from ``key_file`` if ``explicit``, else ``env[env_name]`` if set, else ``key_file``.

    Args:
        key_file: path of the key file (text; surrounding whitespace ignored).
        env: the environment to look in (pass ``os.environ``; tests pass a dict).
        env_name: the environment variable that may hold the key.
        create: create a random key file (mode 0600) when it does not exist.
        explicit: ``key_file`` was given on the command line: it wins over the environment.
    """
    value = None if explicit else env.get(env_name)
    if value:
        return _checked(value.strip().encode(), f"${env_name}")
    if key_file is None:
        raise UserError(f"no de-identification key: set {env_name} or pass --key-file FILE")
    return read_key_file(Path(key_file), create)


def read_key_file(path: Path, create: bool = False) -> SecretKey:
    """Read a key file: it must be a file, owner-only, holding at least ``MIN_KEY_BYTES`` bytes.

    Args:
        path: the key file.
        create: create a random key (mode 0600) when the file does not exist.
    """
    if not path.exists():
        if not create:
            raise UserError(f"key file {path} does not exist (create one with 32 random bytes, mode 0600)")
        create_key_file(path)
    if path.is_dir():
        raise UserError(f"key file {path} is a folder, not a file: pass the file that holds the key")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"key file {path} can be accessed by other users (mode {mode:04o}): "
                        f"run chmod 600 {path}")
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise UserError(f"key file {path} cannot be read: {exc.strerror}") from None
    return _checked(value, f"key file {path}")


def _checked(value: bytes, where: str) -> SecretKey:
    if len(value) < MIN_KEY_BYTES:
        raise UserError(f"the de-identification key in {where} is too short ({len(value)} bytes): need at "
                        f"least {MIN_KEY_BYTES}, e.g. 64 hex characters from "
                        "python -c 'import secrets; print(secrets.token_hex(32))'")
    return SecretKey(value)


def create_key_file(path: Path) -> None:
    """Write a new random key (64 hex characters) readable by the owner only.

    Args:
        path: where the key goes; must be a git-ignored place such as ``.secrets/``.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
