import sys

from mailbot_sandbox.cli import main

sys.exit(main())
