"""``python -m backends.simulator --port 8001 --model my-model``."""

import sys

from backends.simulator.cli import main

sys.exit(main())
