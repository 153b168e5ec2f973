import sys

from gateway.authz.cli import main

sys.exit(main())
