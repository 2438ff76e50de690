"""salad-sd's code, one package per concern (salad, container_group, model_image, txt2img, program)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The Pulumi project directory: Pulumi.yaml, the `Pulumi.<stack>.yaml` files and, by default, the state
(`.pulumi-state/`, Pulumi.yaml's `backend.url`, relative to the directory pulumi runs in)."""
