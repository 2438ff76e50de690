"""The stand-in base's `launch` module: the part of A1111's launcher (modules/launch_utils.py) that
extensions' install.py scripts call through `import launch` (the webui root is on PYTHONPATH)."""

import importlib.metadata
import importlib.util
import os
import subprocess
import sys

python = sys.executable
index_url = os.environ.get("INDEX_URL", "")


def is_installed(package):
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        return importlib.util.find_spec(package) is not None


def run(command, desc=None, errdesc=None, custom_env=None, live=True):
    if desc:
        print(desc, flush=True)
    result = subprocess.run(command, shell=True, env=custom_env or os.environ)
    if result.returncode != 0:
        raise RuntimeError(f"{errdesc or 'Error running command'}. Command: {command}")


def run_pip(command, desc=None, live=True):
    index_url_line = f" --index-url {index_url}" if index_url != "" else ""
    return run(
        f'"{python}" -m pip {command} --prefer-binary{index_url_line}',
        desc=f"Installing {desc}",
        errdesc=f"Couldn't install {desc}",
        live=live,
    )
