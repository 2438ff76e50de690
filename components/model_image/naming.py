"""The name ModelImage builds and pushes an image under: `repository:tag`, the tag defaulting to the
stack's name. One function, so the size report finds the very image `pulumi up` built."""

from __future__ import annotations


def image_name(repository: object, tag: object, stack: str) -> str:
    """`repository` and `tag` as the stack config gives them (checked elsewhere); an empty tag: `stack`."""
    return f"{repository}:{tag or stack}"
