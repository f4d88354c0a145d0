"""Fields every namespace uses."""

from __future__ import annotations

from marshmallow import validate

# Text PostgreSQL can store and a page can show: no NUL byte, no lone surrogate (a 4xx, never a driver's 500).
clean_text = validate.Regexp(r"^[^\x00\ud800-\udfff]*$", error="must not contain NUL or unpaired surrogate characters")
