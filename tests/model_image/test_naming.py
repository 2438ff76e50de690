"""The image name shared by ModelImage and the size report."""

from __future__ import annotations

from components.model_image.naming import image_name


def test_the_tag_defaults_to_the_stack() -> None:
    assert image_name("r.example.com/a/sd", None, "dev") == "r.example.com/a/sd:dev"
    assert image_name("r.example.com/a/sd", "", "dev") == "r.example.com/a/sd:dev"
    assert image_name("r.example.com/a/sd", "v2", "dev") == "r.example.com/a/sd:v2"
