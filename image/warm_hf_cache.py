"""Build-time warm-up of the Hugging Face cache for AUTOMATIC1111.

A1111 loads the CLIP tokenizer and the text-encoder config with `transformers` the first time it loads
a checkpoint, so without this every fresh node downloads them at start (and fails offline). Run during
`docker build` with HF_HOME pointing at the cache directory the container uses at run time:

    HF_HOME=/data/.cache/huggingface python warm_hf_cache.py openai/clip-vit-large-patch14

Fails (non-zero) when a download fails: a silently cold cache would defeat the purpose. Turn the step
off with the WARM_HF_CACHE=0 build arg instead.
"""

import sys


def warm(repos):
    # Imported here so `--help` works without transformers.
    from transformers import CLIPTextConfig, CLIPTokenizer

    for repo in repos:
        CLIPTokenizer.from_pretrained(repo)
        CLIPTextConfig.from_pretrained(repo)
        print("warm_hf_cache: cached tokenizer and config of " + repo, flush=True)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    warm(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
