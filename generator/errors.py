"""The one exception family of the generator; the CLI turns it into ``Error: …`` and exit status 2."""


class GeneratorError(Exception):
    """A problem the user can fix; its message is one line."""


class OptionError(GeneratorError):
    """A bad command-line option; the message names the option."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"{option}: {message}")


class OutputDirError(GeneratorError):
    """The output directory cannot be written or replaced."""
