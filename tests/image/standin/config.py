"""The stand-in base's /docker/config.py: fills missing defaults into A1111's config.json (output
directories under /output, the font) and writes it back, like the real base's does at every start."""

import json
import os
import sys

DEFAULTS = {
    "outdir_txt2img_samples": "/output/txt2img",
    "outdir_img2img_samples": "/output/img2img",
    "outdir_extras_samples": "/output/extras",
    "outdir_save": "/output/saved",
    "font": "DejaVuSans.ttf",
}

path = sys.argv[1] if len(sys.argv) > 1 else "/data/config/auto/config.json"
config = {}
if os.path.isfile(path):
    with open(path) as f:
        config = json.load(f)
for key, value in DEFAULTS.items():
    config.setdefault(key, value)
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(config, f)
