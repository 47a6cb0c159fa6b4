"""Draw Plate's app icons as PNG with the standard library only: `python service_worker/make_icons.py`.

A cream plate with a teal check on a teal tile; the maskable variants keep the drawing inside the
central 80 % safe zone and fill the whole square, so launchers may crop them to any shape.
"""
import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "webapp" / "static" / "icons"
TEAL = (15, 82, 87)
CREAM = (246, 244, 239)
RIM = (226, 220, 206)
CORAL = (224, 122, 95)


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _coverage(distance: float) -> float:
    """Anti-aliasing: a signed distance in pixels (negative inside) to the share of the pixel covered."""
    return max(0.0, min(1.0, 0.5 - distance))


def _segment_distance(px, py, ax, ay, bx, by) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _over(base, color, alpha):
    return tuple(b + (c - b) * alpha for b, c in zip(base, color))


def draw(size: int, maskable: bool) -> bytes:
    scale = 0.8 if maskable else 1.0  # the safe zone of a maskable icon is a circle of 40 % radius
    c = size / 2
    tile_half, corner = size * 0.47, size * 0.2
    plate_r, rim_r = size * 0.36 * scale, size * 0.29 * scale
    stroke = size * 0.045 * scale
    check = [(-0.13, 0.0), (-0.035, 0.095), (0.14, -0.1)]
    check = [(c + x * size * scale, c + y * size * scale) for x, y in check]
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            px, py = x + 0.5, y + 0.5
            if maskable:
                color, alpha = TEAL, 1.0
            else:  # a rounded square tile with transparent corners
                qx, qy = abs(px - c) - (tile_half - corner), abs(py - c) - (tile_half - corner)
                outside = math.hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - corner
                color, alpha = TEAL, _coverage(outside)
            r = math.hypot(px - c, py - c)
            color = _over(color, CREAM, _coverage(r - plate_r))
            color = _over(color, RIM, _coverage(abs(r - rim_r) - size * 0.006))
            d = min(_segment_distance(px, py, *check[0], *check[1]), _segment_distance(px, py, *check[1], *check[2]))
            color = _over(color, CORAL, _coverage(d - stroke))
            row += bytes((round(color[0]), round(color[1]), round(color[2]), round(alpha * 255)))
        rows.append(bytes(row))
    return _png(size, size, rows)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(draw(size, maskable=False))
        (OUT / f"maskable-{size}.png").write_bytes(draw(size, maskable=True))
    (OUT / "apple-touch-icon.png").write_bytes(draw(180, maskable=True))  # iOS rounds the corners itself
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
