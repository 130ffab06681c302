"""The codes of the imports domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class TransactionImportError(ErrorCode):
    IMPORT_FILE_TOO_LARGE = "IMPORT_FILE_TOO_LARGE", ("An imported file is over the size limit "
                                                      "(QREFUND_MAX_IMPORT_BYTES): split it.")
    EMPTY_FILE = "EMPTY_FILE", "An imported file holds no data."
    UNKNOWN_FORMAT = "UNKNOWN_FORMAT", ("Say the file's format (CSV or JSONL), or name it "
                                        "*.csv, *.jsonl or *.ndjson.")
