"""An image's size by layer group (uncompressed, as `docker history` reports them): base, hf-cache (the
Hugging Face files), extensions, worker (Salad's job-queue worker), models, and ours (the base check, the
supervisor and its files). A re-push uploads the layers whose content changed; a new Salad node downloads
every group, compressed.

    python -m components.model_image.layer_sizes IMAGE
    python -m components.model_image.layer_sizes --stack dev   # the image built for Pulumi.dev.yaml
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from components.model_image.fetch import human_size, load_image_section
from components.model_image.models import ModelError
from components.model_image.naming import image_name

GROUPS = ("base", "hf-cache", "extensions", "worker", "models", "ours")
FIRST_OWN_STEP = "/docker/salad/check_base.sh"  # the Dockerfile's first instruction after FROM
_MODEL_DIRS = ("/data/models/", "/data/embeddings/")
_MARKERS = (  # group -> what its steps' created_by names (both builders name the copied file's path)
    ("hf-cache", ("warm_hf_cache",)),
    ("extensions", ("/data/config/auto/extensions", "run_extension_installers")),
    ("worker", ("install_queue_worker",)),
    ("models", _MODEL_DIRS),
)


def group_sizes(layers: Iterable[tuple[int, str]]) -> dict[str, int]:
    """Bytes per group for `(size, created_by)` history entries, oldest first."""
    sizes = dict.fromkeys(GROUPS, 0)
    own = False
    for size, created_by in layers:
        own = own or FIRST_OWN_STEP in created_by
        if not own:
            group = "base"
        else:
            found = (g for g, markers in _MARKERS if any(marker in created_by for marker in markers))
            group = next(found, "ours")
        sizes[group] += size
    return sizes


def history(
    image: str, docker: str = "docker", env: Mapping[str, str] | None = None
) -> list[tuple[int, str]]:
    """`(size, created_by)` of the image's layers, oldest first."""
    output = subprocess.run(
        [docker, "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", image],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=None if env is None else dict(env),
    ).stdout
    entries = []
    for line in output.splitlines():
        size, _, created_by = line.partition("\t")
        entries.append((int(size), created_by))
    return entries[::-1]


def describe(sizes: dict[str, int]) -> str:
    lines = [f"  {group:<11}{human_size(sizes[group]):>10}" for group in GROUPS]
    return "\n".join([*lines, f"  {'total':<11}{human_size(sum(sizes.values())):>10} (uncompressed)"])


def built_image(stack: str, config_path: Path) -> str | None:
    """The local name of the image `pulumi up` builds for a stack (components.model_image.naming, as
    ModelImage names it); None in `ref` mode, where nothing is built."""
    image = load_image_section(config_path)
    if image.get("ref") is not None or not image.get("repository"):
        return None
    return image_name(image["repository"], image.get("tag"), stack)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) == 2 and args[0] == "--stack":
        try:
            found = built_image(args[1], Path(f"Pulumi.{args[1]}.yaml"))
        except (OSError, ModelError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        if found is None:
            print(f"stack {args[1]} deploys an existing image (salad-sd:image.ref): nothing was built")
            return 0
        args = [found]
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    docker = os.environ.get("DOCKER", shutil.which("docker") or "docker")
    try:
        sizes = group_sizes(history(args[0], docker))
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"error: cannot read the layers of {args[0]}: {error}", file=sys.stderr)
        return 1
    print(f"image {args[0]} by layer group:\n{describe(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
