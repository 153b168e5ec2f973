import sys

from gateway.metering.cli import main

sys.exit(main())
