"""Every error gutaxis raises on purpose.

The hierarchy::

    GutaxisError
    ├── InputError                 bad user input (files, options)
    │   ├── FormatError            a file is not what it claims / is malformed
    │   │   └── UnsafeInputError   a file tries something dangerous (huge sizes,
    │   │                          path traversal, HDF5 external links, ...)
    │   ├── ValidationError        well-formed data that breaks a rule
    │   │                          (duplicate ids, negative counts, ...)
    │   ├── UnitError              a unit that is unknown or cannot be converted
    │   └── SampleMismatchError    table and metadata do not share enough samples
    ├── UnknownMetricError         a metric name not in the registry
    │   └── UnknownRankError       a taxonomic rank not in gutaxis.study.RANKS
    ├── NotFoundError              an id that is not there (carries ``missing``)
    └── ToolError                  an external step (aligner, tree builder) failed

Messages say what was expected, what was found, and how to fix it; the file,
line or field is named whenever there is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "GutaxisError",
    "InputError",
    "FormatError",
    "UnsafeInputError",
    "ValidationError",
    "UnitError",
    "SampleMismatchError",
    "UnknownMetricError",
    "UnknownRankError",
    "NotFoundError",
    "ToolError",
]


class GutaxisError(Exception):
    """Base class of every error gutaxis raises deliberately."""


class InputError(GutaxisError, ValueError):
    """The user's input (a file or an option) cannot be used as given."""


class FormatError(InputError):
    """A file is malformed or not in the format it was read as."""


class UnsafeInputError(FormatError):
    """A file exceeds a safety limit or uses a feature that is refused."""


class ValidationError(InputError):
    """Well-formed data that breaks a rule (duplicates, negative counts, ...)."""


class UnitError(InputError):
    """A unit that is not known, or cannot be converted to the one required."""


class SampleMismatchError(InputError):
    """A table and its metadata (or two tables) do not share enough samples."""


class UnknownMetricError(GutaxisError, ValueError):
    """A metric name that is not registered.

    Parameters
    ----------
    name : str
        The name that was asked for.
    valid : iterable of str
        The names that would have been accepted.
    kind : str
        ``"alpha"`` or ``"beta"`` (used in the message).
    """

    def __init__(self, name: str, valid: Iterable[str], kind: str = "") -> None:
        self.name = name
        self.valid = sorted(valid)
        label = f"{kind} diversity metric" if kind else "metric"
        super().__init__(f"unknown {label} {name!r}; valid names are: {', '.join(self.valid)}")


class UnknownRankError(UnknownMetricError):
    """A rank name that is not one of :data:`gutaxis.study.RANKS`.

    A subclass of :class:`UnknownMetricError` (the "unknown name, here are the
    valid ones" error), so code that catches that catches this too.  ``valid``
    lists the ranks in taxonomic order.

    Parameters
    ----------
    name : str
        The rank that was asked for.
    """

    def __init__(self, name: str) -> None:
        # Imported here: gutaxis.study imports this module.
        from gutaxis.study import RANKS

        super().__init__(name, RANKS)
        self.valid = list(RANKS)
        self.args = (f"unknown taxonomic rank {name!r}; valid ranks are: {', '.join(RANKS)}",)


class NotFoundError(GutaxisError, KeyError):
    """Ids that were asked for but are not present.

    Parameters
    ----------
    what : str
        What was looked up (``"sample id"``, ``"marker column"``...), singular.
    missing : sequence of str
        The ids that are not present.
    where : str
        Where they were looked up (a file name, ``"the table"``).
    """

    def __init__(self, what: str, missing: Sequence[str], where: str = "") -> None:
        self.what = what
        self.missing = list(missing)
        shown = ", ".join(map(repr, self.missing[:10]))
        more = f" (and {len(self.missing) - 10} more)" if len(self.missing) > 10 else ""
        place = f" in {where}" if where else ""
        super().__init__(f"{len(self.missing)} {what}(s) not found{place}: {shown}{more}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ToolError(GutaxisError, RuntimeError):
    """An external step (multiple alignment, tree inference) failed."""
