"""Makes `python -m bot` behave like the `litwatch` command."""

import sys

from bot.cli import main

sys.exit(main())
