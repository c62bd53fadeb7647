"""Every error gutaxis raises on purpose.

The hierarchy::

    GutaxisError
    ├── InputError                 bad user input (files, options)
    │   ├── FormatError            a file is not what it claims / is malformed
    │   │   └── UnsafeInputError   a file tries something dangerous (huge sizes,
    │   │                          path traversal, HDF5 external links, ...)
    │   ├── ValidationError        well-formed data that breaks a rule
    │   │   │                      (duplicate ids, negative counts, ...)
    │   │   └── EmptySamplesError  a metric undefined on samples with no reads
    │   ├── UnitError              a unit that is unknown or cannot be converted
    │   ├── SampleMismatchError    table and metadata do not share enough samples
    │   ├── OutputError            an output folder that cannot be written as asked
    │   └── UnknownNameError       a name that is not one of the valid names
    │       ├── UnknownMetricError     a diversity metric
    │       └── UnknownRankError       a taxonomic rank
    ├── NotFoundError              an id that is not there (carries ``missing``)
    └── ToolError                  an external step (aligner, tree builder, PDF) failed

    RepeatedMeasuresWarning        (a UserWarning) the metadata looks like several
                                   samples per person, and no subject was named
    LowDepthWarning                (a UserWarning) a depth chosen for the user is too
                                   low for diversity to mean much
    ArtifactChecksumWarning        (a UserWarning) a .qza's data file does not match the
                                   MD5 its checksums.md5 records

Messages say what was expected, what was found, and how to fix it; the file,
line or field is named whenever there is one.  A name that is close to a valid
one gets a "did you mean" (:func:`suggest`).

The public functions check the values they are given at the boundary with the
few ``check_*`` functions of :mod:`gutaxis.checks` (an object of the wrong
type, a text where a number is needed, a count below 1, a path that is no
path), so that a bad argument fails there, with a message, and not deep inside
with a bare ``TypeError`` or ``AttributeError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "GutaxisError",
    "InputError",
    "FormatError",
    "UnsafeInputError",
    "ValidationError",
    "EmptySamplesError",
    "UnitError",
    "SampleMismatchError",
    "OutputError",
    "UnknownNameError",
    "UnknownMetricError",
    "UnknownRankError",
    "NotFoundError",
    "ToolError",
    "RepeatedMeasuresWarning",
    "LowDepthWarning",
    "ArtifactChecksumWarning",
    "suggest",
]


def suggest(name: str, valid: Iterable[str], *, limit: int = 3) -> list[str]:
    """Return the valid names a mistyped ``name`` most likely meant.

    Case and separators (``_``, ``-``, spaces) are ignored first; then a name
    that starts with ``name`` (``shannon`` → ``shannon_entropy``), then close
    spellings (:func:`difflib.get_close_matches`), of the whole name or of its
    first word (``shanon`` → ``shannon_entropy``).

    Parameters
    ----------
    name : str
        What was asked for.
    valid : iterable of str
        The names that exist.
    limit : int, default 3
        Most suggestions returned.

    Returns
    -------
    list of str
        Best first; empty when nothing is close.

    Examples
    --------
    >>> suggest("subject", ["Age", "Subject", "BMI"])
    ['Subject']
    >>> suggest("shannon", ["observed_features", "shannon_entropy", "simpson"])
    ['shannon_entropy']
    >>> suggest("shanon", ["observed_features", "shannon_entropy", "simpson"])
    ['shannon_entropy']
    >>> suggest("zzz", ["Age"])
    []
    """
    names = [str(v) for v in valid]

    def fold(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch not in "_- .")

    key = fold(str(name))
    if not key:
        return []
    found = [v for v in names if fold(v) == key]
    found += [v for v in names if v not in found and fold(v).startswith(key)]
    folded = {fold(v): v for v in names}
    close = difflib.get_close_matches(key, list(folded), n=limit, cutoff=0.75)
    found += [folded[c] for c in close if folded[c] not in found]
    # a misspelt first word of a longer name: "shanon" for "shannon_entropy"
    first: dict[str, str] = {}
    for v in names:
        first.setdefault(fold(v.replace("-", "_").split("_")[0]), v)
    close = difflib.get_close_matches(key, list(first), n=limit, cutoff=0.8)
    found += [first[c] for c in close if first[c] not in found]
    return found[:limit]


def _did_you_mean(hits: list[str]) -> str:
    if not hits:
        return ""
    return "; did you mean " + " or ".join(repr(h) for h in hits) + "?"


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


class EmptySamplesError(ValidationError):
    """A metric that is undefined on samples with no reads (Bray–Curtis between two of them).

    Parameters
    ----------
    message : str
    rows : sequence of int
        The positions of the empty samples in the table (a driver that knows
        the sample ids names them).

    Attributes
    ----------
    rows : list of int
    """

    def __init__(self, message: str, rows: Sequence[int]) -> None:
        self.rows = [int(r) for r in rows]
        super().__init__(message)


class UnitError(InputError):
    """A unit that is not known, or cannot be converted to the one required."""


class SampleMismatchError(InputError):
    """A table and its metadata (or two tables) do not share enough samples."""


class OutputError(InputError):
    """An output folder or file that cannot be written as asked (not empty, an input)."""


class UnknownNameError(InputError):
    """A name that is not one of the valid names (the message lists them).

    Parameters
    ----------
    name : str
        The name that was asked for.
    valid : iterable of str
        The names that would have been accepted, in the order to show them.
    what : str
        What kind of name (``"metric"``, ``"taxonomic rank"``), singular.
    meant : str, optional
        A valid name known to be meant (suggested first), where spelling
        alone would not find it.

    Attributes
    ----------
    name : str
    valid : list of str
    suggestions : list of str
        Valid names close to ``name`` (see :func:`suggest`).
    """

    def __init__(self, name: str, valid: Iterable[str], what: str = "name",
                 meant: str | None = None) -> None:
        self.name = str(name)
        self.valid = list(valid)
        close = suggest(self.name, self.valid)
        self.suggestions = ([meant] if meant in self.valid else []) + [
            v for v in close if v != meant]
        hint = _did_you_mean(self.suggestions)
        listing = f"the valid names are: {', '.join(self.valid)}"
        super().__init__(f"unknown {what} {self.name!r}"
                         + (f"{hint} ({listing})" if hint else f"; {listing}"))


class UnknownMetricError(UnknownNameError):
    """A diversity metric name that is not registered.

    Parameters
    ----------
    name : str
        The name that was asked for.
    valid : iterable of str
        The registered names (listed sorted).
    kind : str
        ``"alpha"``, ``"beta"`` or ``""`` (used in the message).
    """

    def __init__(self, name: str, valid: Iterable[str], kind: str = "") -> None:
        label = f"{kind} diversity metric" if kind else "metric"
        super().__init__(name, sorted(valid), label)


class UnknownRankError(UnknownNameError):
    """A rank name that is not one of the ranks (:data:`gutaxis.study.RANKS`).

    Parameters
    ----------
    name : str
        The rank that was asked for.
    ranks : iterable of str
        The valid ranks, in taxonomic order (:data:`gutaxis.study.RANKS`).

    Examples
    --------
    >>> str(UnknownRankError("genera", ["family", "genus"]))
    "unknown taxonomic rank 'genera'; did you mean 'genus'? (the valid names are: family, genus)"
    """

    #: the plurals people type for a rank (spelling distance does not find "genera")
    PLURALS = {"kingdoms": "kingdom", "phyla": "phylum", "phylums": "phylum",
               "classes": "class", "orders": "order", "families": "family",
               "genera": "genus", "genuses": "genus"}

    def __init__(self, name: str, ranks: Iterable[str]) -> None:
        super().__init__(name, ranks, "taxonomic rank",
                         meant=self.PLURALS.get(str(name).strip().casefold()))


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
    available : sequence of str, optional
        The ids that are present: close ones are suggested ("did you mean"),
        and up to ``show`` of them are listed.
    show : int, default 100
        How many of ``available`` the message lists.

    Attributes
    ----------
    what : str
    missing : list of str
    suggestions : dict of str to list of str
        Missing id → the available ids close to it.
    """

    def __init__(self, what: str, missing: Sequence[str], where: str = "",
                 available: Sequence[str] | None = None, show: int = 100) -> None:
        self.what = what
        self.missing = [str(m) for m in missing]
        names = [str(a) for a in available] if available is not None else []
        self.suggestions = {m: suggest(m, names) for m in self.missing}
        shown = ", ".join(map(repr, self.missing[:10]))
        more = f" (and {len(self.missing) - 10} more)" if len(self.missing) > 10 else ""
        place = f" in {where}" if where else ""
        text = f"{len(self.missing)} {what}(s) not found{place}: {shown}{more}"
        if len(self.missing) == 1:
            text += _did_you_mean(self.suggestions[self.missing[0]])
        else:
            hints = [f"{m!r} → {' or '.join(map(repr, s))}"
                     for m, s in self.suggestions.items() if s]
            if hints:
                text += f"; did you mean {', '.join(hints)}?"
        if available is not None:
            listed = ", ".join(names[:show]) + (f" … ({len(names)} in all)"
                                                if len(names) > show else "")
            text += ("" if text.endswith("?") else ".") + f" Available: {listed or 'none'}"
        super().__init__(text)

    def __str__(self) -> str:  # KeyError would repr() the message
        """Return the message as written (``KeyError`` would quote it)."""
        return str(self.args[0])


class ToolError(GutaxisError, RuntimeError):
    """An external step (multiple alignment, tree inference, PDF) failed."""


class RepeatedMeasuresWarning(UserWarning):
    """Several samples seem to come from one person, and no subject was named."""


class LowDepthWarning(UserWarning):
    """A rarefaction depth gutaxis chose is too low for diversity to mean much."""


class ArtifactChecksumWarning(UserWarning):
    """A ``.qza``'s data file differs from the MD5 its ``checksums.md5`` records.

    The artifact was changed after it was written (QIIME 2's provenance tools
    call such an archive invalid); its data are read as they are.
    """
