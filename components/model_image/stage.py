"""Stages what the image bakes in, from a stack's config file (no Pulumi CLI needed): downloads the
models into `image/models/<kind>/` and checks the extensions out at their commits into
`image/extensions/<name>/`. Run by `scripts/stage-image.sh STACK` (which `scripts/deploy.sh` calls).

    python -m components.model_image.stage --stack dev      # reads Pulumi.dev.yaml
    python -m components.model_image.stage --config path/to/Pulumi.prod.yaml [--context image]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from components.model_image.extensions import CONFIG_KEY as EXTENSIONS_KEY
from components.model_image.extensions import parse_extensions, stage_extensions
from components.model_image.fetch import fetch, load_image_section
from components.model_image.models import CONFIG_KEY as MODELS_KEY
from components.model_image.models import ModelError, parse_models


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.model_image.stage", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml in the project directory")
    source.add_argument("--config", type=Path, help="path to a Pulumi.<stack>.yaml")
    parser.add_argument(
        "--project-dir", type=Path, default=Path("."), help="where Pulumi.yaml is (default: .)"
    )
    parser.add_argument("--context", type=Path, help="build context (default: <project-dir>/image)")
    options = parser.parse_args(argv)
    config_path = options.config or options.project_dir / f"Pulumi.{options.stack}.yaml"
    context = options.context or options.project_dir / "image"
    try:
        image = load_image_section(config_path)
        if image.get("ref") is not None:
            print("salad-sd:image.ref is set: nothing is built, nothing to stage")
            return 0
        models = parse_models(image.get("models"), MODELS_KEY)
        extensions = parse_extensions(image.get("extensions"), EXTENSIONS_KEY)
        fetched = fetch(models, context)
        staged = stage_extensions(extensions, context)
    except (OSError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"staged in {context}: {len(models)} model(s) (downloaded {len(fetched)}), "
        f"{len(extensions)} extension(s) (checked out {len(staged)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
