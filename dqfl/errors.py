"""User-facing errors.

Anything a user can cause (a bad config value, a missing folder, a malformed file) raises
:class:`DqflError`. The CLI turns it into one line on stderr and exit code 2, never a traceback.
"""


class DqflError(Exception):
    """An error caused by the user's input; its message says what is wrong and what is allowed."""
