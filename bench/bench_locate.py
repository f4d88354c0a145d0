"""Point → grid lookup speed: GridLocator against a naive loop over the polygons.

    .venv/bin/python bench/bench_locate.py [--points 1000000] [--naive-points 20000] [--seed 1]

Builds one realistic site (a jittered 7 × 7 lattice over ~600 m × 500 m near lon 120.15, lat 30.28:
49 grids on level 0, one of them a MultiPolygon, courtyards cut as holes, one hole filled by its own grid;
a second level of 6 floor grids), then 100 such sites side by side in one locator (4,900 level-0 grids),
and prints for each:
  - batch `locate_many` points/s over random points (uniform over a site's box grown by 10 %);
  - single `locate` µs/call (median of batches of 100 calls) and `locate_or_nearest` for outside points;
  - the naive loop `for poly in polygons: if poly.contains(Point(x, y))` on a smaller sample, per point,
    and the ratio locator ÷ naive.
Figures are printed, never asserted. One core, no database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import harness  # noqa: E402

from gridpatrol.core.geometry import LocalProjection  # noqa: E402
from gridpatrol.core.locator import GridLocator  # noqa: E402

ORIGIN = LocalProjection(120.15, 30.28)
SITE_W, SITE_H = 600.0, 500.0  # metres
SITE_PITCH = (800.0, 700.0)  # metres between neighbouring sites' origins in the 10 × 10 province
TARGET_BATCH = 2_000_000  # points/s, 49 grids
TARGET_SINGLE_US = 20.0


def polyline(a, b, rng, wiggle: float) -> list[tuple[float, float]]:
    """A shared edge from a to b with 3 intermediate vertices pushed sideways (real grid edges bend)."""
    (ax, ay), (bx, by) = a, b
    nx, ny = -(by - ay), bx - ax
    norm = np.hypot(nx, ny) or 1.0
    points = [a]
    for t in (0.25, 0.5, 0.75):
        off = rng.uniform(-wiggle, wiggle)
        points.append((ax + (bx - ax) * t + nx / norm * off, ay + (by - ay) * t + ny / norm * off))
    return points + [b]


def site_grids(rng: np.random.Generator, dx: float, dy: float, prefix: str) -> list:
    """One compound in metres east/north of ORIGIN, shifted by (dx, dy): [(key, level, polygon_m)]."""
    rows, cols = 7, 7
    cw, ch = SITE_W / cols, SITE_H / rows
    vx = np.array([[c * cw for c in range(cols + 1)] for _ in range(rows + 1)])
    vy = np.array([[SITE_H - r * ch for _ in range(cols + 1)] for r in range(rows + 1)])
    vx[:, 1:-1] += rng.uniform(-0.2, 0.2, (rows + 1, cols - 1)) * cw
    vy[1:-1, :] += rng.uniform(-0.2, 0.2, (rows - 1, cols + 1)) * ch
    vx, vy = vx + dx, vy + dy
    v = lambda r, c: (float(vx[r, c]), float(vy[r, c]))  # noqa: E731
    horizontal = {(r, c): polyline(v(r, c), v(r, c + 1), rng, 2.0 if 0 < r < rows else 0.0)
                  for r in range(rows + 1) for c in range(cols)}
    vertical = {(r, c): polyline(v(r, c), v(r + 1, c), rng, 2.0 if 0 < c < cols else 0.0)
                for r in range(rows) for c in range(cols + 1)}
    shapes = {}
    for r in range(rows):
        for c in range(cols):  # numbered west → east, north → south
            ring = (horizontal[r, c][:-1] + vertical[r, c + 1][:-1]
                    + horizontal[r + 1, c][::-1][:-1] + vertical[r, c][::-1][:-1])
            shapes[r * cols + c] = Polygon(ring)
    grids = []
    courtyards = rng.choice(rows * cols, 4, replace=False)
    for i in courtyards:  # inner courtyards: holes near the cell's centre, the first one its own grid
        centre = shapes[i].centroid
        hole = shapely.geometry.box(centre.x - 8, centre.y - 6, centre.x + 8, centre.y + 6)
        shapes[i] = Polygon(shapes[i].exterior.coords, [hole.exterior.coords])
    grids.append((f"{prefix}A50", 0, Polygon(shapes[courtyards[0]].interiors[0].coords)))
    shapes[0] = MultiPolygon([shapes[0], shapes.pop(rows * cols - 1)])  # a grid in two parts
    grids += [(f"{prefix}A{i + 1:02d}", 0, g) for i, g in shapes.items()]
    # Level 1: six floor grids over one building in the middle of the site.
    bx, by = dx + SITE_W * 0.35, dy + SITE_H * 0.4
    for i in range(6):
        x, y = bx + (i % 3) * 40.0, by + (i // 3) * 30.0
        grids.append((f"{prefix}F2-{i + 1}", 1, shapely.geometry.box(x, y, x + 40.0, y + 30.0)))
    for key, _, g in grids:
        assert g.is_valid, key
    return grids


def build_entries(sites: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    entries = []
    for s in range(sites):
        dx, dy = (s % 10) * SITE_PITCH[0], (s // 10) * SITE_PITCH[1]
        prefix = f"S{s:03d}-" if sites > 1 else ""
        entries += [(k, level, ORIGIN.to_degrees(g)) for k, level, g in site_grids(rng, dx, dy, prefix)]
    return entries


def random_points(rng: np.random.Generator, n: int, sites: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform over a random site's box grown by 10 % on each side (so ~20 % land outside every grid)."""
    s = rng.integers(0, sites, n)
    x = (s % 10) * SITE_PITCH[0] + rng.uniform(-0.1, 1.1, n) * SITE_W
    y = (s // 10) * SITE_PITCH[1] + rng.uniform(-0.1, 1.1, n) * SITE_H
    kx, ky = ORIGIN.metres_per_degree
    return x / kx + ORIGIN.lon0, y / ky + ORIGIN.lat0


def naive_locate(polygons: list, keys: list, lon: float, lat: float):
    point = Point(lon, lat)
    for key, poly in zip(keys, polygons):
        if poly.contains(point):
            return key
    return None


def per_call_us(fn, lons, lats, batch: int = 100) -> tuple[float, float]:
    """Median over batches of `batch` calls, in µs per call: (wall, CPU)."""
    wall, cpu = [], []
    for start in range(0, len(lons) - batch + 1, batch):
        xs, ys = lons[start:start + batch].tolist(), lats[start:start + batch].tolist()
        with harness.Clock() as clock:
            for x, y in zip(xs, ys):
                fn(x, y)
        wall.append(clock.wall / batch * 1e6)
        cpu.append(clock.cpu / batch * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def run(sites: int, args, rng) -> dict:
    """Measure and print one locator of `sites` sites; returns its figures (rates per s, times in µs)."""
    entries = build_entries(sites, args.seed)
    level0 = [(k, g) for k, level, g in entries if level == 0]
    with harness.Clock() as build:
        locator = GridLocator(entries)
    print(f"\n== {sites} site(s): {len(level0):,} level-0 grids, {len(entries):,} entries on levels "
          f"{list(locator.levels)}; built in {build.wall * 1e3:,.0f} ms wall, {build.cpu * 1e3:,.0f} ms CPU")
    print(f"{'':22}{'wall':>13}{'':10}{'CPU':>13}")

    lons, lats = random_points(rng, args.points, sites)
    locator.locate_many(lons[:10_000], lats[:10_000])  # warm-up
    wall, cpu, found = harness.timed_runs(5, lambda: locator.locate_many(lons, lats))
    batch_rate = args.points / statistics.median(wall)
    batch_cpu_rate = args.points / statistics.median(cpu)
    target = f"   target ≥ {TARGET_BATCH:,}" if sites == 1 else ""
    print(f"batch  locate_many  : {batch_rate:>13,.0f} points/s {batch_cpu_rate:>13,.0f} points/CPU-s{target}"
          f"   [median of 5 × {args.points:,} points, {np.mean(found >= 0):.0%} inside a grid]")

    single_points = min(args.points, 20_000)
    single_us, single_cpu_us = per_call_us(locator.locate, lons[:single_points], lats[:single_points])
    print(f"single locate       : {single_us:>13.2f} µs/call  {single_cpu_us:>13.2f} µs/call     "
          f"target < {TARGET_SINGLE_US:g} µs   [median of {single_points // 100} batches of 100 calls]")
    outside = np.flatnonzero(found < 0)[:2_000]
    nearest_us, nearest_cpu_us = per_call_us(locator.locate_or_nearest, lons[outside], lats[outside])
    print(f"single locate_or_nearest (outside points): {nearest_us:.2f} µs/call wall, {nearest_cpu_us:.2f} CPU")

    keys = [k for k, _ in level0]
    polygons = [g for _, g in level0]
    naive_n = args.naive_points if sites == 1 else max(args.naive_points // 40, 200)
    nl, nt = lons[:naive_n].tolist(), lats[:naive_n].tolist()
    with harness.Clock() as clock:
        naive = [naive_locate(polygons, keys, x, y) for x, y in zip(nl, nt)]
    naive_us, naive_cpu_us = clock.wall / naive_n * 1e6, clock.cpu / naive_n * 1e6
    agree = all(a == (None if i < 0 else locator.keys[i]) for a, i in zip(naive, found[:naive_n]))
    print(f"naive  loop         : {1e6 / naive_us:>13,.0f} points/s {1e6 / naive_cpu_us:>13,.0f} points/CPU-s"
          f"   = {naive_us:,.1f} µs/point wall   [{naive_n:,} points; same answers as locate_many: "
          f"{'yes' if agree else 'NO'}]")
    print(f"ratio  locator ÷ naive: batch {batch_rate * naive_us / 1e6:,.0f}× wall, "
          f"{batch_cpu_rate * naive_cpu_us / 1e6:,.0f}× CPU; single {naive_us / single_us:,.0f}× wall, "
          f"{naive_cpu_us / single_cpu_us:,.0f}× CPU")
    return {"sites": sites, "grids": len(level0), "points": args.points, "build_ms": build.wall * 1e3,
            "batch_points_per_s": batch_rate, "batch_points_per_cpu_s": batch_cpu_rate,
            "single_us": single_us, "single_cpu_us": single_cpu_us, "nearest_us": nearest_us,
            "nearest_cpu_us": nearest_cpu_us, "naive_us": naive_us, "naive_cpu_us": naive_cpu_us,
            "naive_points": naive_n, "naive_agrees": agree}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"python {sys.version.split()[0]}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
          f"numpy {np.__version__}; one core")
    measure_all(args)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="batch size for locate_many")
    parser.add_argument("--naive-points", type=int, default=20_000,
                        help="points for the naive loop at 49 grids (÷40, at least 200, at 4,900)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def measure_all(args: argparse.Namespace) -> list[dict]:
    """Both locators (1 site, 100 sites), printed; returns their figures (bench/run reads them)."""
    rng = np.random.default_rng(args.seed)
    return [run(sites, args, rng) for sites in (1, 100)]


if __name__ == "__main__":
    raise SystemExit(main())
