"""Problems an import reports to the user; str() of each is the message to show."""


class ImportProblem(Exception):
    """Anything the user can fix in the file or the settings they chose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FileRejected(ImportProblem):
    """The file can't be read safely: empty, corrupt, too big, not text, a zip bomb…"""


class MappingError(ImportProblem):
    """The column mapping doesn't fit the markers or the file."""


class LimitsExceeded(ImportProblem):
    """Fields longer than MessageWhiz allows, and truncation was not asked for."""
