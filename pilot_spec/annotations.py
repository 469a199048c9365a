"""A pilot's notes and tags: the limits and the tag rule, shared by the API's PATCH body, the store and the form.

Tags are short slugs (lowercase letters, digits and inner hyphens) so that they read the same in a list, a URL
and a search; they are compared lowercased, so ``Vision`` and ``vision`` are one tag.
"""

from __future__ import annotations

import re

NOTES_MAX = 5000  # characters of free text: a paragraph or two, not a document
TAGS_MAX = 12  # tags on one pilot
TAG_MAX = 32  # characters in one tag
_TAG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_SEPARATORS = re.compile(r"[\s,]+")
TAG_RULE = f"1 to {TAG_MAX} lowercase letters, digits or inner hyphens (like 'cifar-baseline')"


def check_tag(value: str) -> str:
    """One tag, trimmed and lowercased; ``ValueError`` naming the rule when it is not a slug."""
    tag = value.strip().lower()
    if not tag or len(tag) > TAG_MAX or _TAG.fullmatch(tag) is None:
        raise ValueError(f"a tag is {TAG_RULE} (got {value[:40]!r})")
    return tag


def unique_tags(tags: list[str]) -> list[str]:
    """The tags once each, in the order given (a repeated tag is dropped rather than refused)."""
    return list(dict.fromkeys(tags))


def split_tags(text: str) -> list[str]:
    """The form's one text box: tags separated by commas or spaces (each still to check)."""
    return [part for part in _SEPARATORS.split(text) if part]
