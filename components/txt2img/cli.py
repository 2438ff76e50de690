"""Command line: generate an image through the deployed gateway and save it.

    python -m components.txt2img --stack dev --prompt "a lighthouse at dawn" --out lighthouse.png
    python -m components.txt2img --url https://xyz.salad.cloud --steps 20 --seed 42
    python -m components.txt2img --stack batch --count 100 --out out/      # through the job queue

Queue mode (`--queue [NAME]`, automatic when the stack has a queue and no gateway) submits `--count`
jobs through Salad's API and writes out/job-001.png, ... (see `batch.py`).

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
from components.txt2img.batch import run_queue_mode
from components.txt2img.gateway_client import (
    AuthMode,
    Txt2ImgError,
    Txt2ImgRequest,
    Txt2ImgResult,
    WaitPolicy,
    txt2img,
)
from components.txt2img.stack_outputs import StackError, stack_api_key, stack_outputs, stack_url


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m components.txt2img",
        description="Generate an image with the deployed Stable Diffusion (A1111) and save it as PNG.",
    )
    target = parser.add_mutually_exclusive_group()
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
        default=None,
        help="output file (default image.png; several images become NAME-1.png, ...); in queue mode the "
        "directory for job-001.png, ... (default out)",
    )
    queue = parser.add_argument_group("queue mode")
    queue.add_argument(
        "--queue",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="submit jobs to the Salad job queue NAME (default: the stack's `queue` output)",
    )
    queue.add_argument("--count", type=_positive, default=1, help="jobs to submit (queue mode)")
    queue.add_argument("--concurrency", type=_positive, default=8, help="API calls at once (default 8)")
    queue.add_argument(
        "--timeout-minutes", type=float, default=60.0, help="give up waiting after (default 60)"
    )
    queue.add_argument(
        "--poll-seconds", type=float, default=2.0, help="first pause between polls (default 2)"
    )
    queue.add_argument("--max-poll-seconds", type=float, default=15.0, help="longest pause (default 15)")
    queue.add_argument("--webhook", default=None, help="URL Salad calls when each job finishes")
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
        outputs = stack_outputs(args.stack, cwd=args.cwd) if args.stack and not args.url else None
        # Queue mode: asked for, or a stack with a queue and no gateway.
        if args.queue is not None or (outputs and outputs.get("queue") and not outputs.get("url")):
            return run_queue_mode(args, say=_say)
        if not (args.url or args.stack):
            print("error: give --stack STACK or --url URL (or --queue NAME for queue mode)", file=sys.stderr)
            return 2
        url = args.url or stack_url(args.stack, cwd=args.cwd, outputs=outputs)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out = args.out or Path("image.png")
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
