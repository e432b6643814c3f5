"""Images compared the way a person would: perceptual hashes, mean colour, a page's visual similarity.

dHash and pHash are written here with PIL alone (no numpy, no imagehash): both are 64-bit hashes
whose Hamming distance is small for the same picture scaled, recompressed or slightly shifted,
and large for another picture. Both see shapes, not colours, so a flat logo that only changes
colour is caught by its mean colour instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

__all__ = ["colour_distance", "dhash", "hamming", "mask", "mean_colour", "phash", "similarity"]

Box = tuple[int, int, int, int]  # x, y, width, height in px


def dhash(image: Image.Image, size: int = 8) -> str:
    """Difference hash: is each pixel of a (size+1)×size grey thumbnail brighter than its right neighbour?"""
    small = ImageOps.grayscale(image).resize((size + 1, size), Image.Resampling.LANCZOS)
    px = list(small.getdata())
    bits = 0
    for row in range(size):
        for col in range(size):
            left, right = px[row * (size + 1) + col], px[row * (size + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:0{size * size // 4}x}"


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> tuple[tuple[float, ...], ...]:
    """The orthonormal DCT-II basis of size n, row k = frequency k."""
    rows = []
    for k in range(n):
        scale = math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n)
        rows.append(tuple(scale * math.cos(math.pi * (2 * i + 1) * k / (2 * n)) for i in range(n)))
    return tuple(rows)


def phash(image: Image.Image, size: int = 32, keep: int = 8) -> str:
    """DCT perceptual hash: the keep×keep lowest frequencies of a size×size grey thumbnail (the DC term
    left out), each bit whether the coefficient is above their median."""
    small = ImageOps.grayscale(image).resize((size, size), Image.Resampling.LANCZOS)
    px = list(small.getdata())
    rows = [px[r * size:(r + 1) * size] for r in range(size)]
    basis = _dct_matrix(size)[:keep]
    # 2-D DCT = B · X · Bᵀ, only the first `keep` rows and columns are needed
    partial = [[sum(b[i] * rows[i][c] for i in range(size)) for c in range(size)] for b in basis]  # keep×size
    coeffs = [[sum(partial[r][i] * basis[c][i] for i in range(size)) for c in range(keep)] for r in range(keep)]
    flat = [coeffs[r][c] for r in range(keep) for c in range(keep)]
    ac = sorted(flat[1:])
    median = (ac[len(ac) // 2] + ac[(len(ac) - 1) // 2]) / 2
    bits = 0
    for value in flat:
        bits = (bits << 1) | (value > median)
    return f"{bits:0{keep * keep // 4}x}"


def hamming(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two hex hashes of one length; None when either is missing."""
    if not a or not b or len(a) != len(b):
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def mean_colour(image: Image.Image) -> tuple[int, int, int]:
    stat = ImageStat.Stat(image.convert("RGB"))
    return tuple(round(v) for v in stat.mean[:3])  # type: ignore[return-value]


def colour_distance(a: Sequence[int] | None, b: Sequence[int] | None) -> float | None:
    """Euclidean distance between two RGB colours (0..441)."""
    if a is None or b is None:
        return None
    return math.dist(a, b)


def mask(image: Image.Image, boxes: Iterable[Box], fill: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """A copy of *image* with *boxes* painted over (noise: dates, counters, ads, the feed)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    for x, y, w, h in boxes:
        if w > 0 and h > 0:
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=fill)
    return out


def similarity(before: Image.Image, after: Image.Image, *, cell: int = 24,
               cell_threshold: float = 12.0) -> tuple[float, list[Box]]:
    """How alike two page images are (0..1), and the regions that differ.

    Both are compared over the height they share, as grey images; the score is 1 minus the mean
    absolute difference (0..255 scaled to 0..1) over cells of *cell* px, where a cell counts by its
    mean difference only when that passes *cell_threshold* (anti-aliasing and sub-pixel shifts stay
    under it). Changed cells are merged into rectangles row by row.
    """
    width = min(before.width, after.width)
    height = min(before.height, after.height)
    a = ImageOps.grayscale(before.crop((0, 0, width, height)))
    b = ImageOps.grayscale(after.crop((0, 0, width, height)))
    diff = ImageChops.difference(a, b)
    cols, rows = max(1, math.ceil(width / cell)), max(1, math.ceil(height / cell))
    # one mean per cell: a box-filter resize is the mean of each cell's pixels
    means = list(diff.resize((cols, rows), Image.Resampling.BOX).getdata())
    total, changed = 0.0, []
    for index, value in enumerate(means):
        if value > cell_threshold:
            total += value
            changed.append((index % cols, index // cols))
    score = 1 - total / (255 * len(means))
    extra = (before.height != after.height) and abs(before.height - after.height) / max(before.height, after.height)
    if extra:
        score *= 1 - 0.5 * extra  # a page that grew or shrank looks different too
    return round(max(0.0, score), 4), _merge(changed, cell, width, height)


def _merge(cells: list[tuple[int, int]], cell: int, width: int, height: int) -> list[Box]:
    """Changed cells as rectangles: runs in a row, then runs of the same span in consecutive rows."""
    runs: dict[tuple[int, int], list[int]] = {}
    by_row: dict[int, list[int]] = {}
    for col, row in cells:
        by_row.setdefault(row, []).append(col)
    for row, cols in sorted(by_row.items()):
        cols.sort()
        start = prev = cols[0]
        for col in [*cols[1:], None]:
            if col is not None and col == prev + 1:
                prev = col
                continue
            runs.setdefault((start, prev), []).append(row)
            if col is not None:
                start = prev = col
    boxes: list[Box] = []
    for (first, last), rows in runs.items():
        top = prev_row = rows[0]
        for row in [*rows[1:], None]:
            if row is not None and row == prev_row + 1:
                prev_row = row
                continue
            x, y = first * cell, top * cell
            boxes.append((x, y, min(width, (last + 1) * cell) - x, min(height, (prev_row + 1) * cell) - y))
            if row is not None:
                top = prev_row = row
    return sorted(boxes, key=lambda b: (b[1], b[0]))
