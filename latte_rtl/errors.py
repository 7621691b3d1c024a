"""The exception types the CLI turns into one line: user errors (exit 2) and failed runs (exit 1)."""


class UserError(ValueError):
    """A bad parameter, file or environment: the message says what is wrong and what is expected."""


class RunFailed(RuntimeError):
    """A run that could not finish (a simulator or worker process died): the CLI prints the
    message on one line, `latte-rtl: FAIL: …`, and exits 1."""
