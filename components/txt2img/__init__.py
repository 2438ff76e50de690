"""Talking to a deployed webui: txt2img CLI, gateway client, PNG checks and the post-deploy smoke test."""
