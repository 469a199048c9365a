"""Text that every store can hold: the one rule for user text, shared by the API's models and the parameters."""

from __future__ import annotations


def clean_text(value: str) -> str:
    """Return ``value``, or raise ``ValueError`` for text no database can store (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def show(value: object, limit: int = 60) -> str:
    """A short, always-encodable repr of user input for messages."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
