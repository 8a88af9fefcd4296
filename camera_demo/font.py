"""A tiny monospaced bitmap font for the overlay (6 x 11 pixels a glyph, ASCII 32-126).

Why not ``cv2.putText``: OpenCV 5 renders its HERSHEY_* fonts with a TrueType engine whose
first use adds about 8.5 MB of resident memory, a tenth of the demo's whole budget. These
glyphs cost nothing to load and draw with one masked assignment per string, identically
on every OpenCV version.

The glyph table is Pillow's built-in bitmap font (``ImageFont.load_default_imagefont()``,
Pillow's HPND licence), dumped once by running this module (``python -m camera_demo.font``).
Each glyph is 11 rows of 6 bits (bit x = column x), two hex digits a row.
"""

from __future__ import annotations

import numpy as np

GLYPH_W, GLYPH_H = 6, 11
FIRST = 32

# fmt: off
_TABLE = (
    "0000000000000000000000",  # ' '
    "0000000606060600060000",  # '!'
    "0000000a0a0a0000000000",  # '"'
    "00000a0a1f0a0a1f0a0a00",  # '#'
    "00041e130f1e181b0f0400",  # '$'
    "000007150f041e151c0000",  # '%'
    "0000000e03061f0d1f0000",  # '&'
    "00000c0402000000000000",  # "'"
    "0000080406060606040800",  # '('
    "000002040c0c0c0c040200",  # ')'
    "0000040f06090000000000",  # '*'
    "00000004041f0404000000",  # '+'
    "00000000000000000c0402",  # ','
    "00000000001f0000000000",  # '-'
    "0000000000000000060000",  # '.'
    "0000101008080404020200",  # '/'
    "00000e1b1b1b1b1b0e0000",  # '0'
    "00000c0f0c0c0c0c3f0000",  # '1'
    "00000e1b180c061b1f0000",  # '2'
    "00000e1b180e181b0e0000",  # '3'
    "0000181c1a1b3f18180000",  # '4'
    "00001f030f1b18190f0000",  # '5'
    "00000e1b030f1b1b0e0000",  # '6'
    "00001f1b180c0c06060000",  # '7'
    "00000e1b1b0e1b1b0e0000",  # '8'
    "00000e1b1b1e181b0e0000",  # '9'
    "0000000000060000060000",  # ':'
    "0000000000060000060201",  # ';'
    "0000000c0603060c000000",  # '<'
    "000000000f000f00000000",  # '='
    "000000060c180c06000000",  # '>'
    "0000000e190c0600060000",  # '?'
    "00000e1319151539030e00",  # '@'
    "0000000f0e0a1f1b3b0000",  # 'A'
    "0000000f1b0f1b1b0f0000",  # 'B'
    "0000001e1b03031b0e0000",  # 'C'
    "0000000f1b1b1b1b0f0000",  # 'D'
    "0000001f030f031b1f0000",  # 'E'
    "0000001f030f0303070000",  # 'F'
    "0000000e1b031f1b1e0000",  # 'G'
    "0000003b1b1f1b1b3b0000",  # 'H'
    "0000000f060606060f0000",  # 'I'
    "0000001e0c0c0d0d070000",  # 'J'
    "0000001b0b070f1b370000",  # 'K'
    "000000070303031b1f0000",  # 'L'
    "000000111b1b1f15150000",  # 'M'
    "0000003b17171b1b130000",  # 'N'
    "0000000e1b1b1b1b0e0000",  # 'O'
    "0000000f1b1b0f03070000",  # 'P'
    "0000000e1b1b1b1b0e1800",  # 'Q'
    "0000000f1b1b0f1b370000",  # 'R'
    "0000001e130f1c190f0000",  # 'S'
    "0000001f160606060f0000",  # 'T'
    "0000003b1b1b1b1b0e0000",  # 'U'
    "0000003b1b0a0e0e040000",  # 'V'
    "0000003515151f0e0a0000",  # 'W'
    "000000331e0c0c1e330000",  # 'X'
    "00000033331e0c0c1e0000",  # 'Y'
    "0000001f1b0c061b1f0000",  # 'Z'
    "00000e0606060606060e00",  # '['
    "0000010102020404080800",  # '\\'
    "00000e0c0c0c0c0c0c0e00",  # ']'
    "0000040e1b000000000000",  # '^'
    "000000000000000000003f",  # '_'
    "0000060408000000000000",  # '`'
    "000000000e1b1e1b3f0000",  # 'a'
    "000003030f1b1b1b0f0000",  # 'b'
    "000000000e1b031b0e0000",  # 'c'
    "00001c181e1b1b1b3e0000",  # 'd'
    "000000000e1b1f031e0000",  # 'e'
    "00001c061f0606061f0000",  # 'f'
    "00000000361b1b1b1e180f",  # 'g'
    "000003030f1b1b1b1b0000",  # 'h'
    "00000c000f0c0c0c3f0000",  # 'i'
    "00000c000f0c0c0c0c0c07",  # 'j'
    "000003031b0f070f3b0000",  # 'k'
    "00000f0c0c0c0c0c3f0000",  # 'l'
    "000000000f1f1515150000",  # 'm'
    "000000000d1b1b1b1b0000",  # 'n'
    "000000000e1b1b1b0e0000",  # 'o'
    "000000000f1b1b1b0f0307",  # 'p'
    "00000000361b1b1b1e183c",  # 'q'
    "000000003b2e06060f0000",  # 'r'
    "000000001e071e381f0000",  # 's'
    "000006061f0606361c0000",  # 't'
    "000000001b1b1b1b3e0000",  # 'u'
    "000000001b1b0e0e040000",  # 'v'
    "0000000035151f1e0a0000",  # 'w'
    "00000000371e0c1e3b0000",  # 'x'
    "000000003b1b1b0a0e0603",  # 'y'
    "000000001f0d061b1f0000",  # 'z'
    "0000180c0c060c0c0c1800",  # '{'
    "0000000404040404040400",  # '|'
    "00000306060c0606060300",  # '}'
    "00000000160d0000000000",  # '~'
)
# fmt: on


def _glyph(hexrows: str) -> np.ndarray:
    rows = [int(hexrows[i : i + 2], 16) for i in range(0, 2 * GLYPH_H, 2)]
    return np.array([[(r >> x) & 1 for x in range(GLYPH_W)] for r in rows], dtype=bool)


class BitmapFont:
    """The glyphs scaled by an integer ``scale`` (optionally emboldened), with a string cache."""

    def __init__(self, scale: int = 1, bold: bool = False) -> None:
        self.scale = max(1, int(scale))
        self.bold = bold
        s = self.scale
        self.glyphs = [np.repeat(np.repeat(_glyph(h), s, axis=0), s, axis=1) for h in _TABLE]
        if bold:  # thicken vertical strokes by half a glyph pixel
            k = max(1, s // 2)
            self.glyphs = [g | np.pad(g, ((0, 0), (k, 0)))[:, : g.shape[1]] for g in self.glyphs]
        self.unknown = self.glyphs[ord("?") - FIRST]
        self.height = GLYPH_H * s
        self.advance = GLYPH_W * s
        self._cache: dict[str, np.ndarray] = {}

    def text_size(self, text: str) -> tuple[int, int]:
        """(width, height) in pixels."""
        return len(text) * self.advance, self.height

    def mask(self, text: str) -> np.ndarray:
        m = self._cache.get(text)
        if m is None:
            g = self.glyphs
            n = len(g)
            parts = [g[o - FIRST] if 0 <= o - FIRST < n else self.unknown for o in map(ord, text)]
            m = np.hstack(parts) if parts else np.zeros((self.height, 0), bool)
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[text] = m
        return m

    def put(self, img: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int]) -> None:
        """Draw ``text`` with its top-left corner at ``org`` (x, y), clipped to the image."""
        m = self.mask(text)
        x, y = org
        h, w = m.shape
        ih, iw = img.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(iw, x + w), min(ih, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        img[y0:y1, x0:x1][m[y0 - y : y1 - y, x0 - x : x1 - x]] = colour


def _dump_table() -> str:  # pragma: no cover - regenerates _TABLE from Pillow
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default_imagefont()
    out = []
    for code in range(FIRST, 127):
        im = Image.new("L", (GLYPH_W, GLYPH_H))
        ImageDraw.Draw(im).text((0, 0), chr(code), font=font, fill=255)
        px = im.load()
        rows = "".join(f"{sum(1 << x for x in range(GLYPH_W) if px[x, y] > 127):02x}" for y in range(GLYPH_H))
        out.append(f'    "{rows}",  # {chr(code)!r}')
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(_dump_table())
