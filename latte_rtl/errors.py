"""The one exception type for user errors: the CLI prints its message on one line, exit 2."""


class UserError(ValueError):
    """A bad parameter, file or environment: the message says what is wrong and what is expected."""
