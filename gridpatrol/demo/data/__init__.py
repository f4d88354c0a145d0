"""Data files of the demo compound (东湖区行政中心, site code DHXZ) and the script that generates them.

`build_compound.py` is the source of truth; `site.json`, `compound.geojson`, `people.json` and
`checkpoints.json` are its output and are what the app loads. See README.md in this folder.
"""
