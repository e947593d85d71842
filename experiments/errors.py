"""The one exception family of the experiments package; CLIs turn it into ``Error: …`` and exit status 2."""


class ExperimentError(Exception):
    """A problem the user can fix (bad input file, bad option); its message is one line."""
