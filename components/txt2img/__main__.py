"""`python -m components.txt2img`: see components/txt2img/cli.py."""

import sys

from components.txt2img.cli import main

sys.exit(main())
