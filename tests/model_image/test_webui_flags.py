"""The refused webui flags: the rule the stack config applies (the entrypoint's test applies it in bash)."""

from __future__ import annotations

import pytest

from components.model_image.webui_flags import flag_rules, refused_flags, refused_in


@pytest.mark.parametrize(
    ("arguments", "flag", "expands_to"),
    [
        ("--port 7860", "--port", None),
        ("--medvram --port=7860", "--port", None),
        ("--por 7860", "--por", "--port"),
        ("--nowe", "--nowe", "--nowebui"),
        ("--server-n=::", "--server-n", "--server-name"),
        ("--subp /sd", "--subp", "--subpath"),
        ("--tls-k key.pem", "--tls-k", "--tls-keyfile"),
        ("--tls-c cert.pem", "--tls-c", "--tls-certfile"),
        ("--api-a a:b", "--api-a", "--api-auth"),
        ("--ui-debug", "--ui-debug", "--ui-debug-mode"),
    ],
)
def test_refused_flags_and_their_prefixes(arguments: str, flag: str, expands_to: str | None) -> None:
    ((found, reason),) = refused_in(arguments)
    assert found == flag
    if expands_to is None:
        assert reason == refused_flags()[flag]
    else:
        why = refused_flags()[expands_to]
        assert reason == f"a prefix of {expands_to}, which A1111 accepts for it: {why}"


@pytest.mark.parametrize(
    "arguments",
    [
        "--api",  # a prefix of --api-auth, but A1111's own flag
        "--api-log --medvram --no-hashing",
        "--portable --ports",  # longer than a refused flag, not a prefix of one
        "-- --x",  # `--` alone ends the options
        "plain-value",
    ],
)
def test_other_flags_pass(arguments: str) -> None:
    assert refused_in(arguments) == []


def test_every_allowed_flag_prefixes_a_refused_one() -> None:
    """An `allow` line that prefixes nothing refused would be dead weight in the one list."""
    rules = flag_rules()
    assert rules.allowed
    for flag in rules.allowed:
        assert any(refused.startswith(flag) and refused != flag for refused in rules.refused)
