"""Build-time warm-up of the Hugging Face cache for AUTOMATIC1111.

A1111 loads the CLIP tokenizer and the text-encoder config with `transformers` the first time it loads
a checkpoint, so without this every fresh node downloads them at start (and fails offline). Run during
`docker build` with HF_HOME set to the cache directory the container uses at run time:

    HF_HOME=/data/.cache/huggingface python warm_hf_cache.py openai/clip-vit-large-patch14

After downloading it proves the point: a fresh interpreter with the hub offline (HF_HUB_OFFLINE=1)
must load the same tokenizer and config from the cache. Fails (non-zero) when a download or that
offline load fails: a silently cold cache would defeat the purpose. Turn the step off with the
WARM_HF_CACHE=0 build arg instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

OFFLINE = "--offline-check"


def load(repos: list[str], label: str) -> None:
    # Imported here so `--help` works without transformers.
    from transformers import CLIPTextConfig, CLIPTokenizer

    for repo in repos:
        CLIPTokenizer.from_pretrained(repo)
        CLIPTextConfig.from_pretrained(repo)
        print(f"warm_hf_cache: {label} tokenizer and config of {repo}", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == OFFLINE:
        load(argv[1:], "loaded offline the")
        return 0
    if not os.environ.get("HF_HOME"):
        print("warm_hf_cache: set HF_HOME to the cache directory the container uses", file=sys.stderr)
        return 2
    load(argv, "cached")
    offline = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    check = subprocess.run([sys.executable, __file__, OFFLINE, *argv], env=offline)
    if check.returncode != 0:
        print("warm_hf_cache: the cache does not serve an offline load; see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
