"""What every `dermaseg` subcommand shares: exit statuses and the layout of help pages.

Exit status, the same for every command that processes many files: 0 every file done,
3 some files skipped (each listed with its reason), 2 usage error or nothing to do.
"""

from __future__ import annotations

import argparse

EXIT_OK = 0          # every file done
EXIT_USAGE = 2       # bad arguments, unusable output folder, or nothing to do
EXIT_SKIPPED = 3     # done, but some files were skipped (each is listed with its reason)

EXIT_CODES_HELP = ("exit status: 0 every file done; 3 some files skipped (each listed with the reason); "
                   "2 usage error, unusable output folder or nothing to do")


# Help pages of the many-file commands show each option's default and end with EXIT_CODES_HELP.
HelpFormatter = argparse.ArgumentDefaultsHelpFormatter
