"""Colour contrast as WCAG 2.2 defines it (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio),
for the themes editors give the widget (Theme in polls/models.py)."""

import math

# Success criterion 1.4.3 (text) and 1.4.11 (the parts of a graphic needed to read it).
TEXT_RATIO = 4.5
GRAPHIC_RATIO = 3.0


def channels(colour: str) -> tuple[int, int, int]:
    """ "#rrggbb" -> (r, g, b), 0-255."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def relative_luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def shown_ratio(ratio: float) -> str:
    """A ratio as people read it, rounded down: a 4.47:1 that fails is never shown as 4.5:1."""
    return f"{math.floor(ratio * 10) / 10:.1f}:1"


def mix(first: str, second: str, share_of_first: float) -> str:
    """The two colours mixed in sRGB, as CSS's color-mix(in srgb, ...) does."""
    mixed = (
        round(a * share_of_first + b * (1 - share_of_first))
        for a, b in zip(channels(first), channels(second), strict=True)
    )
    return "#" + "".join(f"{c:02x}" for c in mixed)


def readable_mix(text: str, background: str, share_of_text: float) -> str:
    """A softer text colour (the widget's fine print), as soft as it can be up to
    share_of_text while it still reads at TEXT_RATIO on the background."""
    share = share_of_text
    while share < 1:
        colour = mix(text, background, share)
        if contrast_ratio(colour, background) >= TEXT_RATIO:
            return colour
        share += 0.05
    return text
