"""A grid of real Omniglot thumbnails as an inline PNG, or a note when the data is absent."""

import base64
import struct
import zlib

from reference_impl.omniglot import decode_characters

CHARACTERS = [  # rows: four background alphabets, then four evaluation alphabets
    "images_background/Latin/character01", "images_background/Greek/character05",
    "images_background/Korean/character10", "images_background/Bengali/character20",
    "images_evaluation/Tengwar/character01", "images_evaluation/Gurmukhi/character05",
    "images_evaluation/Mongolian/character10", "images_evaluation/Atlantean/character20",
]  # fmt: skip
DRAWERS, GAP = 10, 2  # drawings shown per character, white pixels between thumbnails


def png(rows: list[bytes], width: int) -> bytes:
    """A minimal 8-bit grayscale PNG (filter 0 on every row)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


try:
    thumbs = decode_characters(CHARACTERS)  # (8, 20, 28, 28) uint8, dark strokes
except FileNotFoundError as err:
    print('!!! warning "Omniglot data not found"')
    print(
        f"    The grid needs the official images; this build found none ({err}). Place them at "
        "`../shared/data/omniglot` next to the repository or set `OMNIGLOT_ROOT`."
    )
else:
    side = 28 + GAP
    canvas = bytearray(b"\xff" * (len(CHARACTERS) * side + GAP) * (DRAWERS * side + GAP))
    width = DRAWERS * side + GAP
    for r in range(len(CHARACTERS)):
        for d in range(DRAWERS):
            for y in range(28):
                start = (GAP + r * side + y) * width + GAP + d * side
                canvas[start : start + 28] = bytes(thumbs[r, d, y].tolist())
    rows = [bytes(canvas[y * width : (y + 1) * width]) for y in range(len(canvas) // width)]
    data = base64.b64encode(png(rows, width)).decode()
    print(
        f'<img alt="Omniglot thumbnails: 8 characters (rows) by 10 drawers (columns)" '
        f'src="data:image/png;base64,{data}" style="width:100%;max-width:{3 * width}px;'
        f'image-rendering:pixelated">'
    )
