"""A tenant's whole data as one archive: export, checksums, import (README "Backups")."""
