"""Exception types raised by kerasrec, and the argument rules that raise them.

Every error a user can fix carries enough context to fix it: the file, the sheet
(or archive member), the column and the offending rows, as the user sees them (for a
DataFrame passed in memory: the frame and the rows' 0-based positions, as ``iloc``
counts them).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Optional, Sequence, Type

import numpy as np

#: How many offending rows/values an error message lists before summarising.
MAX_LISTED = 5


class KerasRecError(Exception):
    """Base class of all errors raised by kerasrec."""


class DataError(KerasRecError, ValueError):
    """Input data is missing, unreadable or violates the MovieLens schema.

    Attributes:
        problem: What is wrong, in one sentence.
        file: Path of the offending file, if known.
        sheet: Sheet (xlsx) or archive member (zip) holding the data, if any; the
            message calls it a member when ``file`` is a zip archive.
        frame: The in-memory DataFrame holding the data (``"ratings"``,
            ``"products"``), when it came from no file.
        column: Offending column, if the problem is in one column.
        rows: File row numbers of the first offending rows (header row = 1); in a
            ``frame``, their 0-based positions (``frame.iloc[row]``).
        hint: How to fix it, if there is an obvious fix.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Optional[str] = None,
        sheet: Optional[str] = None,
        frame: Optional[str] = None,
        column: Optional[str] = None,
        rows: Optional[Sequence[int]] = None,
        n_rows: Optional[int] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.sheet = sheet
        self.frame = frame
        self.column = column
        self.rows = [int(r) for r in rows] if rows is not None else []
        self.n_rows = n_rows if n_rows is not None else len(self.rows)
        self.hint = hint
        super().__init__(self._format())

    def with_file(self, file: str) -> "DataError":
        """The same error, located in ``file`` (when it was raised without one)."""
        return DataError(self.problem, file=file, sheet=self.sheet, frame=self.frame,
                         column=self.column, rows=self.rows, n_rows=self.n_rows,
                         hint=self.hint)

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(f"file '{self.file}'")
        if self.sheet:
            # an archive holds members, a workbook sheets
            kind = "member" if str(self.file).lower().endswith(".zip") else "sheet"
            where.append(f"{kind} '{self.sheet}'")
        if self.frame:
            where.append(f"frame '{self.frame}'")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.problem
        if self.rows:
            listed = ", ".join(str(r) for r in self.rows[:MAX_LISTED])
            more = self.n_rows - min(len(self.rows), MAX_LISTED)
            noun = "position" if self.frame else "row"  # a frame's rows as iloc counts them
            text += f" ({noun} {listed}" if len(self.rows) == 1 else f" ({noun}s {listed}"
            text += f" and {more} more)" if more > 0 else ")"
        if self.hint:
            text += f". {self.hint}"
        return text


class DataWarning(UserWarning):
    """Data was read, but not as written (e.g. a file that is not UTF-8 was decoded as
    Windows-1252); the message names the file and the line."""


class ScaleWarning(UserWarning):
    """A part of a model was switched off because the data is too large for it; the
    message names the part, its measured cost and how to keep it."""


class ArgumentError(KerasRecError, ValueError):
    """A function was called with an argument it cannot use (e.g. ``k=0``)."""


class TrainingError(KerasRecError, FloatingPointError):
    """Training could not produce a usable model (e.g. the loss became NaN)."""


class PipelineError(KerasRecError, ValueError):
    """A feature pipeline is used before fitting, or its saved file is invalid."""


class ArtifactError(KerasRecError, OSError):
    """A model or pipeline artifact could not be written or read."""


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number: Python or NumPy, not a bool or text.

    The one rule for settings given as numbers (rates, fractions, thresholds); each
    caller states the range it accepts in its own message.

    Example:
        >>> is_number(0.5), is_number(True), is_number("0.5"), is_number(float("nan"))
        (True, False, False, False)
    """
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def true_or_false(value: Any, name: str) -> bool:
    """Return ``value`` as a bool if it is one (Python or NumPy).

    A switch given as ``"no"`` or ``0.5`` would otherwise read as True.

    Raises:
        ArgumentError: Otherwise, naming ``name``.

    Example:
        >>> true_or_false("no", "exclude_seen")
        Traceback (most recent call last):
        kerasrec.errors.ArgumentError: exclude_seen must be True or False, got 'no'
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(f"{name} must be True or False, got {value!r}")


def check_fraction(fraction: float, name: str = "test_size") -> float:
    """Return ``fraction`` as a float if it lies strictly between 0 and 1 (a share held
    out: ``test_size``, ``validation_fraction``).

    Raises:
        ArgumentError: Otherwise, naming the argument.
    """
    if not (is_number(fraction) and 0.0 < fraction < 1.0):
        raise ArgumentError(f"{name} must lie strictly between 0 and 1, got {fraction!r}")
    return float(fraction)


def whole_number(value: Any, name: str, minimum: int = 1, *, unit: str = "",
                 error: Type[KerasRecError] = ArgumentError) -> int:
    """Return ``value`` as an int if it is a whole number of at least ``minimum``.

    The one rule for counts, sizes and seeds passed as arguments: Python and NumPy
    integers pass; bools, floats (even ``2.0``), text and None do not.

    Args:
        value: The argument.
        name: Its name, as the caller wrote it.
        minimum: The smallest value accepted (1: "positive", 0: "0 or more").
        unit: What it counts (``"movies"``, ``"bytes"``), for the message.
        error: The class raised (the module's own where it has one).

    Returns:
        ``int(value)``.

    Raises:
        ArgumentError: (or ``error``) naming the argument and what it accepts.

    Example:
        >>> whole_number(0, "k", unit="movies")
        Traceback (most recent call last):
        kerasrec.errors.ArgumentError: k must be a positive whole number of movies, got 0
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) \
            and value >= minimum:
        return int(value)
    kind = ("a positive whole number" if minimum == 1 else "a whole number, 0 or more"
            if minimum == 0 else f"a whole number, {minimum} or more")
    raise error(f"{name} must be {kind}{' of ' + unit if unit else ''}, got {value!r}")


def preview(values: Iterable[object], limit: int = MAX_LISTED) -> str:
    """Format the first few offending values for an error message."""
    # NumPy scalars read as 7.0 and 'abc' here, not as np.float64(7.0).
    values = [v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v
              for v in values]
    text = ", ".join(_short(repr(v)) for v in values[:limit])
    return text + (", ..." if len(values) > limit else "")


def _short(text: str, width: int = 60) -> str:
    # A damaged file can put megabytes in one cell; a message shows its start.
    return text if len(text) <= width else f"{text[:width - 5]}...{text[-2:]}"


class NotFittedError(KerasRecError, AttributeError):
    """A method needs a fitted object; call ``fit`` (or ``load``) first."""


class UnknownMovieError(KerasRecError, KeyError):
    """A movieId is not in the catalog the recommender was fitted with."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CapabilityError(KerasRecError, NotImplementedError):
    """The chosen model cannot do this (e.g. explain a model without branches)."""


class MissingDependencyError(KerasRecError, ImportError):
    """An optional dependency (e.g. pydot + graphviz for model diagrams) is missing."""


class BackendError(KerasRecError, ImportError):
    """Keras is set to run on a backend other than TensorFlow, which kerasrec's models,
    retrieval and SavedModel export are written for."""
