"""exportRefundCases, exportTransactions, export(id) and the download route."""
