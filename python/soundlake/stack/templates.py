"""Config templates of the stack: `${name}` placeholders filled from the stack's settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Template

from .service import StackError


def fill(text: str, values: Mapping[str, str], source: Path) -> str:
    """Fill the `${name}` placeholders of `text` (read from `source`, named in errors)."""
    try:
        return Template(text).substitute(values)
    except KeyError as err:
        raise StackError(
            f"{source} uses the placeholder ${{{err.args[0]}}}, which the stack does not set"
        ) from None
    except ValueError as err:
        raise StackError(
            f"{source} has a malformed placeholder ({err}); write a literal $ as $$"
        ) from None


def render(template: Path, values: Mapping[str, str]) -> str:
    """The text of `template` with its placeholders filled."""
    return fill(template.read_text(), values, template)
