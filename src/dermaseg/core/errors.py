"""The error a user is shown as one line: what was wrong with their input, never a traceback."""


class UserError(Exception):
    """An error caused by the user's input: printed as one clear line, no traceback."""
