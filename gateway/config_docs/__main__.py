import sys

from gateway.config_docs._command import main

sys.exit(main())
