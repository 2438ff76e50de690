"""Stand-in for `transformers` in the stand-in base (which has no torch): the part image/warm_hf_cache.py
and A1111's first model load use, `CLIPTokenizer` / `CLIPTextConfig.from_pretrained`, with the hub
cache's behaviour. Online, a load "downloads" into $HF_HOME/hub (no network involved); offline
(HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1) it reads that cache or fails the way transformers does.

Test knobs: repository `broken/repo` cannot be downloaded; `leaky/repo` "forgets" to cache its config.
Every call is appended to $HF_HOME/calls.txt.
"""

import os


def _home():
    return os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")


def _offline():
    return "1" in (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))


def _load(kind, repo):
    home = _home()
    cached = os.path.join(home, "hub", "models--" + repo.replace("/", "--"), kind)
    offline = _offline()
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "calls.txt"), "a") as calls:
        calls.write(("offline " if offline else "") + kind + " " + repo + "\n")
    if offline:
        if not os.path.exists(cached):
            raise OSError(f"We couldn't connect to the hub to load {kind} of {repo} (offline)")
        return object()
    if repo == "broken/repo":
        raise OSError("We couldn't connect to 'https://huggingface.co'")
    if repo == "leaky/repo" and kind == "config":
        return object()
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    open(cached, "w").close()
    return object()


class CLIPTokenizer:
    @classmethod
    def from_pretrained(cls, repo):
        return _load("tokenizer", repo)


class CLIPTextConfig:
    @classmethod
    def from_pretrained(cls, repo):
        return _load("config", repo)
