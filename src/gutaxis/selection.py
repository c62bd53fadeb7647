"""Choose samples by their metadata: a condition (``--where``) and the subject of each sample.

:func:`select_samples` evaluates a condition such as ``"Subject == 'Control'"``
on the metadata; :func:`query_columns_hint` describes the columns a condition
names, for messages.  :func:`sample_subjects` reads the subject (person) of
every sample from a metadata column, :func:`subject_like_columns` finds columns
that look like one when none was named, and :func:`per_subject` turns sample
values into one value per subject.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.exceptions import InputError, NotFoundError, ValidationError, suggest
from gutaxis.formatting import format_ids
from gutaxis.study import Study, check_study

__all__ = ["no_metadata_note", "select_samples", "query_columns_hint", "sample_subjects",
           "subject_like_columns",
           "per_subject", "SUBJECT_NAMES"]

#: Metadata column names that usually hold the person a sample came from
#: (compared in lower case, with spaces and dashes read as underscores).
SUBJECT_NAMES = ("subject", "subject_id", "subjectid", "host_subject_id", "participant",
                 "participant_id", "patient", "patient_id", "individual", "person", "donor",
                 "host", "host_id", "hostid")


def query_columns_hint(study: Study, where: str | None, *, limit: int = 12) -> str:
    """Describe the values of the metadata columns a query names, for messages.

    Parameters
    ----------
    study : Study
    where : str or None
        A query such as ``"Subject == 'control'"``.
    limit : int, default 12
        Most values listed per column.

    Returns
    -------
    str
        ``" (column 'Subject' holds: 'Control' 39, 'Patient' 48)"``, or ``""``
        when the query names no column.

    Raises
    ------
    InputError
        ``study`` is not a Study.
    ValidationError
        ``where`` is neither None nor a text.

    Examples
    --------
    >>> s = Study(np.ones((3, 1)), ["a", "b", "c"], ["f"]).with_metadata(
    ...     pd.DataFrame({"Subject": ["Control", "Patient", "Control"]}, index=["a", "b", "c"]))
    >>> query_columns_hint(s, "Subject == 'control'")
    " (column 'Subject' holds: 'Control' 2, 'Patient' 1)"
    """
    check_study(study)
    if where is not None and not isinstance(where, str):
        raise ValidationError(f"`where` must be a query string such as \"Subject == "
                              f"'Control'\" (or None); got {where!r}")
    if not where or study.samples is None:
        return ""
    words = set(re.findall(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_.]*)", where))
    named = {a or b for a, b in words}
    parts = []
    for column in study.samples.columns:
        if str(column) not in named:
            continue
        counts = study.samples[column].value_counts(dropna=False)
        shown = ", ".join(f"{v!r} {n}" for v, n in list(counts.items())[:limit])
        more = f" … ({len(counts)} values)" if len(counts) > limit else ""
        parts.append(f"column {str(column)!r} holds: {shown}{more}")
    return f" ({'; '.join(parts)})" if parts else ""


def _why_not(where: str, exc: Exception, names: list[str]) -> str:
    """Say in words why pandas could not evaluate ``where``."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", " ", where)  # quoted values and `columns`
    words = list(dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", bare)))
    keywords = {"and", "or", "not", "in", "is", "True", "False", "None"}
    unknown = [w for w in words if w not in names and w not in keywords]
    spaced = [n for n in names if " " in n and n in where and f"`{n}`" not in where]
    if spaced:
        return (f"a column name with spaces goes between backticks: `{spaced[0]}`")
    if isinstance(exc, NameError) or type(exc).__name__ == "UndefinedVariableError":
        parts = []
        for w in unknown:
            close = suggest(w, names)
            parts.append(f"{w!r} is not a column" + (
                f"; did you mean {' or '.join(map(repr, close))}?" if close else
                f"; if it is a value, quote it: '{w}'"))
        if parts:
            return "; ".join(parts)
    if isinstance(exc, RecursionError | MemoryError) or "nested" in str(exc):
        return "it nests too deeply"
    if isinstance(exc, SyntaxError) or type(exc).__name__ == "TokenError":
        return "it is not a complete expression: check the quotes and brackets"
    return str(exc).split("\n")[0]


#: What a ``--where`` condition may hold: columns, values, comparisons, logic, arithmetic.
_CONDITION_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
                    ast.USub, ast.UAdd, ast.Invert, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
                    ast.Div, ast.FloorDiv, ast.Mod,
                    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
                    ast.NotIn, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple)
_WHAT = {ast.Attribute: "reads an attribute", ast.Call: "calls a function or method",
         ast.Subscript: "takes an item", ast.Lambda: "defines a function"}
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge}
#: A column named between backticks stands for this name, numbered, while it is parsed.
_BACKTICKED = "__gutaxis_column_"
_TRIPLE_QUOTES = ("'" * 3, '"' * 3)


def _columns_named(where: str) -> tuple[str, dict[str, str]]:
    """Replace each `column name` outside quotes by a plain name; return both.

    Quotes are followed as Python reads them (a backtick inside a quoted value
    is part of the value), so that the text checked is the text evaluated.

    >>> _columns_named("`my group` == 'a`b'")
    ("__gutaxis_column_0 == 'a`b'", {'__gutaxis_column_0': 'my group'})
    """
    out: list[str] = []
    named: dict[str, str] = {}
    i = 0
    while i < len(where):
        c = where[i]
        if c in "'\"":
            quote = where[i:i + 3] if where[i:i + 3] in _TRIPLE_QUOTES else c
            j = i + len(quote)
            while j < len(where) and not where.startswith(quote, j):
                j += 2 if where[j] == "\\" else 1
            out.append(where[i:j + len(quote)])
            i = j + len(quote)
        elif c == "#":
            raise SyntaxError("a condition holds no comment ('#')")
        elif c == "`":
            j = where.find("`", i + 1)
            if j < 0:
                raise SyntaxError("a backtick without its closing one")
            name = f"{_BACKTICKED}{len(named)}"
            named[name] = where[i + 1:j]
            out.append(name)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out), named


#: The longest condition taken (the practice's filter field holds as much).
MAX_CONDITION_CHARACTERS = 2000


def _and_or(text: str) -> str:
    """Read ``&`` and ``|`` as ``and`` and ``or``, as pandas does (so they bind loosest).

    ``Age > 30 & Age < 50`` means both comparisons, as in pandas; Python alone
    would read ``Age > (30 & Age) < 50``.

    >>> _and_or("Age > 30 & Age < 50 | ~Flag")
    'Age > 30 and Age < 50 or ~Flag'
    """
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        cuts = [(starts[t.start[0] - 1] + t.start[1], " and " if t.string == "&" else " or ")
                for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type == tokenize.OP and t.string in ("&", "|")]
    except tokenize.TokenError as exc:
        raise SyntaxError(str(exc)) from None
    for at, word in reversed(cuts):
        text = text[:at] + word + text[at + 1:]
    return text


def _condition(where: str, names: list[str]) -> tuple[ast.expr, dict[str, str]]:
    """Parse ``where`` into the expression to evaluate, refusing anything but a condition.

    pandas' ``DataFrame.eval`` ran a condition with Python's own rules,
    method calls included: ``Subject.to_csv('/any/file')`` wrote a file (in
    the practice, where an owner's reference filter is such a condition,
    with the server's rights).  So the condition is parsed here and
    evaluated by :func:`_evaluate`, which knows only columns, quoted values,
    lists of them, comparisons, ``and``/``or``/``not``, ``&``/``|``/``~`` and
    arithmetic: what a condition on metadata needs.  Nothing else runs.
    """
    lead = (f"--where may only compare metadata columns with values (==, !=, <, <=, >, >=, "
            f"in, not in, and, or, not, arithmetic); {where!r}")
    if len(where) > MAX_CONDITION_CHARACTERS:
        raise ValidationError(f"--where may be at most {MAX_CONDITION_CHARACTERS} characters; "
                              f"got {len(where):,}")
    try:
        plain, backticked = _columns_named(where.strip())
        parsed = _and_or(plain)
        statements = ast.parse(parsed, mode="exec").body
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise ValidationError(
            f"--where is not a valid condition on the metadata: {where!r} "
            f"({_why_not(where, exc, names)}). Write a condition on metadata columns, e.g. "
            f"\"Subject == 'Control'\"; the columns are: {', '.join(names)}") from None
    if len(statements) != 1 or not isinstance(statements[0], ast.Expr):
        if any(isinstance(n, ast.Assign) for n in statements):
            raise ValidationError(
                "--where must be a true/false condition on each sample, e.g. \"Subject == "
                f"'Control'\"; {where!r} is not one (it sets a column with '='; compare with "
                "'==')")
        raise ValidationError(f"{lead} is not one condition")
    expression = statements[0].value
    for node in ast.walk(expression):
        if not isinstance(node, _CONDITION_NODES):
            what = _WHAT.get(type(node), f"holds a Python {type(node).__name__} expression")
            snippet = ast.get_source_segment(parsed, node) or type(node).__name__
            raise ValidationError(f"{lead} {what} ({snippet[:60]!r})")
        if isinstance(node, ast.Compare) and not all(
                isinstance(right, ast.List | ast.Tuple)
                for right, op in zip(node.comparators, node.ops, strict=True)
                if isinstance(op, ast.In | ast.NotIn)):
            raise ValidationError(f"{lead}: 'in' takes a list of values on its right, such "
                                  "as ['CD', 'UC']")
    return expression, backticked


def _one_of(left: Any, values: list[Any], negate: bool) -> Any:
    """``in`` (``not in``) a list, and ``==`` (``!=``) one as pandas read it."""
    found = left.isin(values) if isinstance(left, pd.Series) else left in values
    return (~found if isinstance(found, pd.Series) else not found) if negate else found


def _evaluate(node: ast.expr, samples: pd.DataFrame, backticked: dict[str, str]) -> Any:
    """Evaluate a condition that :func:`_condition` checked on the metadata, column-wise."""
    def value(child: ast.expr) -> Any:
        return _evaluate(child, samples, backticked)

    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        column = backticked.get(node.id, node.id)
        if column in samples.columns:
            return samples[column]
        if column in ("index", samples.index.name):  # the sample ids, as pandas allowed
            return pd.Series(samples.index, index=samples.index)
        raise NameError(f"name {column!r} is not defined")
    if isinstance(node, ast.List | ast.Tuple):
        return [value(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp):
        operand = value(node.operand)
        if isinstance(node.op, ast.Not | ast.Invert):
            return ~operand if isinstance(operand, pd.Series) else not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = value(node.left), value(node.right)
        if isinstance(node.op, ast.Mult | ast.Mod) and any(
                isinstance(v, str | bytes | list | tuple) or (
                    isinstance(v, pd.Series) and v.dtype == object) for v in (left, right)):
            raise TypeError("texts and lists are not multiplied or formatted in a condition")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.BoolOp):
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = value(node.values[0])
        for part in node.values[1:]:
            result = combine(result, value(part))
        return result
    if not isinstance(node, ast.Compare):  # pragma: no cover - _condition refused it
        raise TypeError(f"not a condition: {type(node).__name__}")
    left, result = value(node.left), None
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = value(comparator)
        if isinstance(right, list) and isinstance(op, ast.In | ast.NotIn | ast.Eq | ast.NotEq):
            # in, not in, and == / != a list (any of its values)
            step = _one_of(left, right, isinstance(op, ast.NotIn | ast.NotEq))
        else:
            step = _OPERATORS[type(op)](left, right)
        result = step if result is None else result & step
        left = right
    return result


def select_samples(study: Study, where: str | None) -> list[str]:
    """Return the ids of the samples whose metadata satisfy ``where`` (all when None).

    Raises
    ------
    ValidationError
        ``where`` is not a string, refers to Python variables (``@name``),
        holds more than comparisons of columns with values (a method call,
        an attribute: pandas would run them), does not evaluate on the
        metadata, or is not a true/false condition; the study has no
        metadata.
    InputError
        ``study`` is not a Study.
    """
    check_study(study)
    if where is None:
        return [str(s) for s in study.sample_ids]
    if not isinstance(where, str) or not where.strip():
        raise ValidationError(f"the sample selection (--where) must be a condition such as "
                              f"\"Subject == 'Control'\"; got {where!r}")
    if study.samples is None:
        raise ValidationError("the sample selection (--where) reads the sample metadata, and "
                              "the study has none; give --metadata (Python: "
                              "Study.with_metadata)")
    if "@" in where:
        raise ValidationError(f"--where may not refer to Python variables (@name); write the "
                              f"values into the condition; got {where!r}")
    names = [str(c) for c in study.samples.columns]
    expression, backticked = _condition(where, names)
    try:
        mask = _evaluate(expression, study.samples, backticked)
    except Exception as exc:  # NameError, TypeError (a text compared with a number), …
        raise ValidationError(
            f"--where is not a valid condition on the metadata: {where!r} "
            f"({_why_not(where, exc, names)}). Write a condition on metadata columns, e.g. "
            f"\"Subject == 'Control'\"; the columns are: {', '.join(names)}") from None
    values = mask.to_numpy() if isinstance(mask, pd.Series) else None
    if values is None or not all(v is None or v is pd.NA or isinstance(v, bool | np.bool_)
                                 or (isinstance(v, float) and np.isnan(v)) for v in values):
        got = ("a table, not one value per sample" if values is None
               else f"values such as {getattr(values[0], 'item', lambda: values[0])()!r}"
               if len(values) else "nothing")
        equals = (" (it sets a column with '='; compare with '==')"
                  if re.search(r"(?<![=!<>])=(?!=)", where) else "")
        raise ValidationError(f"--where must be a true/false condition on each sample, e.g. "
                              f"\"Subject == 'Control'\"; {where!r} gives {got}{equals}")
    keep = np.array([bool(v) if isinstance(v, bool | np.bool_) else False for v in values],
                    dtype=bool)
    return [str(s) for s in study.sample_ids[keep]]

#: A column with fewer distinct values is a label (e.g. ``Subject``: Control /
#: Patient in the bundled study), not a list of people.
_MIN_SUSPECT_VALUES = 3

# ------------------------------------------------------------------ subjects
def sample_subjects(study: Study, column: str) -> pd.Series:
    """Return the subject (person) of every sample, read from a metadata column.

    Parameters
    ----------
    study : Study
        With sample metadata.
    column : str
        The metadata column that names each sample's subject (``--subject``).

    Returns
    -------
    pandas.Series
        Subject ids as text, indexed by sample id, named ``column``.

    Raises
    ------
    ValidationError
        The study has no metadata, or a sample has no subject.
    NotFoundError
        ``column`` is not a metadata column (close names suggested).

    Examples
    --------
    >>> s = Study(np.ones((3, 1)), ["a", "b", "c"], ["f"]).with_metadata(
    ...     pd.DataFrame({"host": [7, 7, 9]}, index=["a", "b", "c"]))
    >>> sample_subjects(s, "host").tolist()
    ['7', '7', '9']
    """
    check_study(study)
    if not isinstance(column, str) or not column:
        raise ValidationError(f"the subject column (--subject) must be a column name; got "
                              f"{column!r}")
    if study.samples is None:
        raise ValidationError(f"--subject {column} reads the sample metadata, and the study "
                              "has none; give --metadata")
    if column not in study.samples.columns:
        raise NotFoundError("metadata column", [column], "the sample metadata (--subject)",
                            available=[str(c) for c in study.samples.columns])
    values = study.samples[column]
    missing = [str(s) for s in values.index[values.isna().to_numpy()]]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ValidationError(f"--subject {column}: {len(missing)} sample(s) have no subject "
                              f"value: {shown}; fill them in, or leave these samples out "
                              "(--where)")
    out = values.map(_subject_text)
    out.index = pd.Index([str(i) for i in values.index], name="sample_id")
    out.name = column
    return out


def _subject_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _normal_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def subject_like_columns(samples: pd.DataFrame, group_column: str | None = None
                         ) -> list[tuple[str, str]]:
    """Find metadata columns that look like subject ids, when none was named.

    A column is reported when it has at least three values, some samples
    share a value in it, and either its
    name is one of :data:`SUBJECT_NAMES` (``host_subject_id``, ``participant``,
    ``patient`` …), or its values are nested in the groups (every value in one
    group of ``group_column``, more values than groups) with at least half of
    the samples sharing their value with another sample — the signature of
    several samples per person.

    Parameters
    ----------
    samples : pandas.DataFrame
        The sample metadata.
    group_column : str, optional
        The tested column (never reported itself).

    Returns
    -------
    list of (str, str)
        Each suspect column and why, in the metadata's column order.

    Examples
    --------
    >>> md = pd.DataFrame({"diagnosis": ["CD", "CD", "CD", "UC", "UC", "UC"],
    ...                    "Participant ID": ["p1", "p1", "p2", "p3", "p3", "p4"]})
    >>> [c for c, _ in subject_like_columns(md, "diagnosis")]
    ['Participant ID']
    """
    check_type(samples, pd.DataFrame, "samples", hint="pass the sample metadata, Study.samples")
    found: list[tuple[str, str]] = []
    groups = (samples[group_column] if group_column is not None
              and group_column in samples.columns else None)
    for column in samples.columns:
        if column == group_column:
            continue
        values = samples[column].dropna()
        if len(values) < 2:
            continue
        if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
            continue  # a measurement, not an id
        text = values.map(_subject_text)
        counts = text.value_counts()
        sharing = int(counts[counts > 1].sum())
        if sharing == 0 or len(counts) < _MIN_SUSPECT_VALUES:
            continue  # no repeats, or a label with a few values ('Subject': Control/Patient)
        what = (f"{len(counts):,} distinct values among {len(values):,} samples; {sharing:,} "
                "samples share their value with another")
        if _normal_name(str(column)) in SUBJECT_NAMES:
            found.append((str(column), f"its name says so, and {what}"))
            continue
        if groups is None or sharing < len(values) / 2:
            continue
        paired = groups.reindex(values.index)
        per_value = paired.groupby(text).nunique(dropna=True)
        if len(counts) > paired.nunique() and bool((per_value <= 1).all()):
            found.append((str(column), f"every value of it lies in one group of "
                                       f"{group_column}, and {what}"))
    return found


def per_subject(values: pd.DataFrame | pd.Series, subjects: pd.Series,
                how: Literal["mean", "first"] = "mean") -> pd.DataFrame | pd.Series:
    """Return one value per subject: the mean of its samples, or its first sample's.

    Parameters
    ----------
    values : pandas.DataFrame or pandas.Series
        Indexed by sample id (every id must have a subject).
    subjects : pandas.Series
        Subject of each sample (:func:`sample_subjects`).
    how : {"mean", "first"}
        ``"mean"``: the mean over the subject's samples, missing values left
        out (a subject with none stays missing).  ``"first"``: the values of
        the subject's first sample in the order of ``values``.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        Indexed by subject, in order of first appearance.

    Raises
    ------
    InputError
        A sample of ``values`` without a subject, or an unknown ``how``.

    Examples
    --------
    >>> v = pd.Series([1.0, 3.0, 10.0], index=["a", "b", "c"])
    >>> per_subject(v, pd.Series({"a": "p1", "b": "p1", "c": "p2"})).to_dict()
    {'p1': 2.0, 'p2': 10.0}
    """
    if not isinstance(values, pd.DataFrame | pd.Series):
        raise InputError(f"values must be a pandas DataFrame or Series indexed by sample id; "
                         f"got {type(values).__name__}")
    check_type(subjects, pd.Series, "subjects", hint="read them with sample_subjects")
    if how not in ("mean", "first"):
        raise InputError(f"how must be 'mean' or 'first'; got {how!r}")
    keys = subjects.reindex(values.index)
    if keys.isna().any():
        bad = ", ".join(map(str, values.index[keys.isna().to_numpy()][:10]))
        raise InputError(f"{int(keys.isna().sum())} sample(s) have no subject: {bad}")
    grouped = values.groupby(keys.to_numpy(), sort=False)
    out = grouped.mean() if how == "mean" else grouped.first()
    out.index.name = subjects.name if isinstance(subjects.name, str) else "subject"
    return out


def no_metadata_note(study: Study) -> dict[str, str]:
    """Return ``{"samples without metadata": …}`` when the metadata left table samples out.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict of str to str
    """
    check_study(study)
    steps = [s for s in study.provenance if s.get("step") == "attach_metadata"]
    table_only = sum(int(s.get("n_table_only", 0)) for s in steps)
    if not table_only:
        return {}
    return {"samples without metadata": (f"{table_only} sample(s) of the table have no row in "
                                         "the metadata and are left out: "
                                         + format_ids([i for s in steps
                                                       for i in s.get("table_only", [])],
                                                      table_only))}
