"""Command line: generate an image through the deployed gateway and save it.

    python -m components.txt2img --stack dev --prompt "a lighthouse at dawn" --out lighthouse.png
    python -m components.txt2img --url https://xyz.salad.cloud --steps 20 --seed 42

Progress and waiting messages go to stderr; the saved files, seed, model and time go to stdout.
The exit status is 0 on success, 1 when no image came back, 2 for bad arguments or an unreadable stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from components.container_group.settings import API_KEY_ENV
from components.txt2img.gateway_client import (
    AuthMode,
    Txt2ImgError,
    Txt2ImgRequest,
    Txt2ImgResult,
    WaitPolicy,
    txt2img,
)
from components.txt2img.stack_outputs import StackError, stack_api_key, stack_url


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m components.txt2img",
        description="Generate an image with the deployed Stable Diffusion (A1111) and save it as PNG.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="Pulumi stack whose `url` output is the gateway (needs pulumi)")
    target.add_argument("--url", help="the gateway URL, e.g. https://<name>.salad.cloud")
    parser.add_argument(
        "--cwd", default=None, help="Pulumi project directory for --stack (default: where Pulumi.yaml is)"
    )
    parser.add_argument("--prompt", default="a photo of a red apple on a wooden table")
    parser.add_argument("--negative-prompt", default="")
    parser.add_argument("--steps", type=_positive, default=20)
    parser.add_argument("--seed", type=int, default=-1, help="-1 (default) lets the server pick one")
    parser.add_argument("--width", type=_positive, default=512)
    parser.add_argument("--height", type=_positive, default=512)
    parser.add_argument("--batch-size", type=_positive, default=1, help="images per request")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("image.png"),
        help="output file; several images become NAME-1.png, NAME-2.png, ...",
    )
    parser.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--auth always sends Salad-Api-Key, --no-auth never does; by default the key is sent only "
        f"after the gateway asks for it (key from ${API_KEY_ENV}, else the stack's salad:apiKey)",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=WaitPolicy.wait_seconds,
        help=f"how long to retry 403/502/503 right after a deploy (default {WaitPolicy.wait_seconds:.0f})",
    )
    parser.add_argument(
        "--retry-interval",
        type=float,
        default=WaitPolicy.first_interval,
        help=f"first pause between retries in seconds; it grows to {WaitPolicy.max_interval:.0f} s "
        f"(default {WaitPolicy.first_interval:.0f})",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def output_paths(out: Path, count: int) -> list[Path]:
    """`out` for one image; `stem-1.suffix`, `stem-2.suffix`, ... for several."""
    if count == 1:
        return [out]
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}-{number}{suffix}") for number in range(1, count + 1)]


def write_images(result: Txt2ImgResult, out: Path) -> list[Path]:
    paths = output_paths(out, len(result.images))
    for path, data in zip(paths, result.images, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return paths


def _key_source(stack: str | None, cwd: str | None) -> str | None:
    return os.environ.get(API_KEY_ENV) or (stack_api_key(stack, cwd=cwd) if stack else None)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        url = args.url or stack_url(args.stack, cwd=args.cwd)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mode = AuthMode.AUTO if args.auth is None else (AuthMode.ALWAYS if args.auth else AuthMode.NEVER)
    request = Txt2ImgRequest(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        steps=args.steps,
        seed=args.seed,
        width=args.width,
        height=args.height,
        batch_size=args.batch_size,
    )
    _say(f"txt2img: {args.width}x{args.height}, {args.steps} steps, seed {args.seed} -> {url}")
    try:
        result = txt2img(
            url,
            request,
            auth=mode,
            api_key=lambda: _key_source(args.stack, args.cwd),
            policy=WaitPolicy(
                wait_seconds=args.wait_seconds,
                first_interval=args.retry_interval,
                max_interval=max(args.retry_interval, WaitPolicy.max_interval),
            ),
            say=_say,
        )
    except Txt2ImgError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path, info in zip(write_images(result, args.out), result.image_info, strict=True):
        print(f"wrote {path} ({info.width}x{info.height} PNG)")
    seeds = ", ".join(str(seed) for seed in result.seeds) or "unknown"
    print(f"seed: {seeds}")
    print(f"model: {result.model or 'unknown'}")
    tries = "" if result.attempts == 1 else f" ({result.attempts} attempts)"
    print(f"time: {result.seconds:.1f} s{tries}")
    return 0
