"""Grouping an image's history by layer group (the Docker build itself is measured in tests/image)."""

from __future__ import annotations

from pathlib import Path

import yaml

from components.model_image.layer_sizes import built_image, describe, group_sizes, main

HISTORY = [  # oldest first, as BuildKit records them
    (100, "/bin/sh -c #(nop) ADD file:abc in / "),
    (50, "RUN /bin/sh -c apt-get install -y socat # buildkit"),
    (1460, "COPY check_base.sh /docker/salad/check_base.sh # buildkit"),
    (0, "RUN /bin/sh -c /docker/salad/check_base.sh # buildkit"),
    (
        2000,
        "RUN |2 WARM_HF_CACHE=1 /bin/sh -c if [ ... ]; then python /docker/salad/warm_hf_cache.py ...; fi",
    ),
    (300, "COPY extensions/ /data/config/auto/extensions/ # buildkit"),
    (7000, "RUN |2 /bin/sh -c python /docker/salad/run_extension_installers.py /data/config/auto/extensions"),
    (3000, "COPY install_queue_worker.py /docker/salad/install_queue_worker.py # buildkit"),
    (9000, "RUN |4 /bin/sh -c python /docker/salad/install_queue_worker.py https://x y # buildkit"),
    (2_000_000, "COPY models/checkpoint/ /data/models/Stable-diffusion/ # buildkit"),
    (4000, "COPY dir:0f3 in /data/embeddings/ "),  # the classic builder names the destination only
    (10449, "COPY refused-webui-flags.txt warm_up.py entrypoint.sh /docker/salad/ # buildkit"),
    (0, "ENV PORT=7860"),
]


def test_layers_are_grouped_base_hf_cache_extensions_worker_models_ours() -> None:
    assert group_sizes(HISTORY) == {
        "base": 150,
        "hf-cache": 2000,
        "extensions": 7300,
        "worker": 3000 + 9000,
        "models": 2_004_000,
        "ours": 1460 + 10449,
    }


def test_description_names_every_group_and_the_total() -> None:
    sizes = {"base": 5 * 1024**3, "hf-cache": 0, "extensions": 3 * 1024, "worker": 0, "models": 2 * 1024**3}
    text = describe({**sizes, "ours": 10})
    assert [line.split()[0] for line in text.splitlines()] == [*sizes, "ours", "total"]
    assert "7.0 GB (uncompressed)" in text


def test_usage_error_without_an_image() -> None:
    assert main([]) == 2


def test_the_stacks_built_image_is_repository_and_tag(tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(yaml.safe_dump({"config": {"salad-sd:image": {"repository": "r.example.com/a/sd"}}}))
    assert built_image("dev", config) == "r.example.com/a/sd:dev"
    config.write_text(
        yaml.safe_dump({"config": {"salad-sd:image": {"repository": "r.example.com/a/sd", "tag": "v2"}}})
    )
    assert built_image("dev", config) == "r.example.com/a/sd:v2"
    config.write_text(
        yaml.safe_dump({"config": {"salad-sd:image": {"ref": "r.example.com/a/sd@sha256:" + "a" * 64}}})
    )
    assert built_image("dev", config) is None
