"""One-line errors for numeric arguments out of range, shared by the DataModules and the transforms.

Each check runs at construction, so a bad value fails before any data is loaded or any model is
read, with a ``ZooError`` that names the argument, the value and the valid range.
"""

from __future__ import annotations

import math
from numbers import Real

from zoo.errors import ZooError


def check_int(name: str, value: object, low: int, meaning: str) -> None:
    """Raise a one-line ``ZooError`` unless ``value`` is an integer ``>= low`` (booleans are not).

    Args:
        name: The argument as the user writes it (``--data.batch_size``, ``max_length``).
        value: Its value.
        low: The smallest valid value.
        meaning: What the argument counts, shown after the range.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ZooError(f"{name}={value!r} must be an integer >= {low} ({meaning})")


def check_number(name: str, value: object, meaning: str, high: float = math.inf, high_included: bool = False) -> None:
    """Raise a one-line ``ZooError`` unless ``value`` is a number in ``[0, high)`` (``[0, high]`` with
    ``high_included``; NaN never is).

    Args:
        name: The argument as the user writes it (``--data.val_fraction``).
        value: Its value.
        meaning: What the argument is, shown after the range.
        high: The upper bound (``inf``: none).
        high_included: Whether ``high`` itself is valid.
    """
    valid = isinstance(value, Real) and not isinstance(value, bool) and 0 <= value
    if valid and (value <= high if high_included else value < high):
        return
    allowed = ">= 0" if high == math.inf else f"in [0, {high:g}{']' if high_included else ')'}"
    raise ZooError(f"{name}={value!r} must be a number {allowed} ({meaning})")
