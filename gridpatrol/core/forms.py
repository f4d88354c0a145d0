"""Form pieces every domain uses."""

from __future__ import annotations

from typing import Iterable

from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget


def choices(pairs: Iterable[tuple[object, object]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A set of large checkboxes instead of a multi-select, which is awkward on a tablet."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
