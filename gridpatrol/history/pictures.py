"""A handful of small pictures for the history's photos: made with Pillow, always the same bytes, so the photo
directory (files named by content hash) holds these few files however long the history."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

# (background, shape colour): before-photos in dull tones, after-photos brighter.
_BEFORE = (((120, 110, 96), (70, 60, 50)), ((96, 112, 120), (150, 40, 30)), ((130, 130, 120), (60, 90, 140)),
           ((110, 100, 110), (200, 180, 60)))
_AFTER = (((200, 205, 210), (90, 160, 90)), ((215, 210, 195), (70, 130, 190)), ((190, 200, 190), (230, 230, 230)))


def _picture(background: tuple[int, int, int], shape: tuple[int, int, int], variant: int) -> bytes:
    image = Image.new("RGB", (160, 120), background)
    draw = ImageDraw.Draw(image)
    for step in range(0, 120, 12):  # a floor or wall texture
        draw.line([(0, step), (160, step + variant * 3)], fill=tuple(max(c - 18, 0) for c in background))
    draw.rectangle([30 + variant * 10, 30, 100 + variant * 8, 90], outline=shape, width=4)
    draw.ellipse([90, 20 + variant * 6, 140, 70 + variant * 6], fill=shape)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def before_pictures() -> tuple[bytes, ...]:
    """Photos of a problem (before)."""
    return tuple(_picture(bg, shape, i) for i, (bg, shape) in enumerate(_BEFORE))


@functools.lru_cache(maxsize=1)
def after_pictures() -> tuple[bytes, ...]:
    """Photos of the fixed state (after)."""
    return tuple(_picture(bg, shape, i) for i, (bg, shape) in enumerate(_AFTER))
