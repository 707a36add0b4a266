"""The one exception type for mistakes a user can make and fix."""


class UserError(Exception):
    """A problem with the user's input (params, files, design items).

    The CLI prints the message alone (no traceback) and exits non-zero, so the
    message must name the offending thing and what is allowed instead.
    """
